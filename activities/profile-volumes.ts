/**
 * Users' persistent profiles on a session node's host: one ext4 file system image per user and
 * app, of the size the user's storage quota allows, loop-mounted for the one session that uses
 * it and bind-mounted into that session's container where the app keeps its data
 * (core/catalog.ts, the app's `dataDir`).
 *
 * Why a file system per profile: its size is the quota, enforced by the kernel as the app writes
 * (ENOSPC at the cap), not by a periodic check a session can outrun; an image is one file to
 * back up, move or delete; and it works on any host file system, where project quotas need XFS
 * or ext4 mounted with them.
 *
 * Layout under the root (0700, root's): `images/<user id>/<app>.ext4`, and `mounts/<session id>`
 * where an image is mounted while its session runs: the mount is named after the session, so
 * its removal (session-removal.ts) and the reconciler find it by the session's id like its other
 * parts. The file system's own root belongs to the session's user on the host (the user
 * namespace's mapped uid) with mode 0700: no other session's user and no host account but root
 * can read it. Mounted nosuid, nodev, noexec.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, rename, rm, rmdir, stat, statfs, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { MIN_PROFILE_MB, type App } from '../core/catalog.js';
import { modifiedAt, removeOlderThan } from '../core/atomic-file.js';
import { ProfileInUseError } from './errors.js';
import { SESSION_UID, type FileOwner } from './session-files.js';

const run = promisify(execFile);
const MB = 1024 * 1024;
/** Ids as the control plane makes them (UUIDs): nothing else may become a path. */
const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MOUNT_OPTIONS = 'loop,nosuid,nodev,noexec,noatime';

export interface AttachedProfile {
  /** Where it is mounted on the host: the bind mount's source. */
  dir: string;
  usedMb: number;
  capMb: number;
}

export interface ProfileKey {
  userId: string;
  app: App;
}

function checkId(kind: string, id: string): void {
  if (!ID_PATTERN.test(id)) throw new Error(`not a ${kind} id: ${JSON.stringify(id)}`);
}

/** mountinfo's octal escapes (such as \040 for a space) decoded. */
const unescapeMountField = (field: string): string => field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The mounts of /proc/self/mountinfo: each mount point with its source (after the " - " separator: type, source). */
export function mountSources(mountinfo: string): Map<string, string> {
  return new Map(mountinfo.split('\n').flatMap((line): Array<[string, string]> => {
    const point = line.split(' ')[4];
    const source = line.split(' - ')[1]?.split(' ')[1];
    return point ? [[unescapeMountField(point), unescapeMountField(source ?? '')]] : [];
  }));
}

/**
 * How old a temporary image must be before it counts as left by a make that was cut short (a
 * crash, a loss of power): far longer than any make takes, so a retried start never removes the
 * image another attempt is still making.
 */
const STALE_MAKE_MS = 10 * 60_000;

/** How long a detach waits for the kernel to free the profile's loop device after the unmount. */
const LOOP_FREE_TIMEOUT_MS = 10_000;

export class ProfileVolumes {
  constructor(
    private readonly root: string,
    private readonly owner: FileOwner = { uid: SESSION_UID, gid: SESSION_UID },
  ) {}

  imageOf(key: ProfileKey): string {
    checkId('user', key.userId);
    return path.join(this.root, 'images', key.userId, `${key.app}.ext4`);
  }

  mountOf(sessionId: string): string {
    checkId('session', sessionId);
    return path.join(this.root, 'mounts', sessionId);
  }

  /**
   * Mounts the profile for the session (made on first use, grown to `capMb` if the quota grew),
   * idempotently: a retried start finds it mounted. Refuses when the image is mounted for
   * another session: one writer per file system, whatever the control plane believes.
   */
  async attach(sessionId: string, key: ProfileKey, capMb: number): Promise<AttachedProfile> {
    const image = this.imageOf(key);
    const dir = this.mountOf(sessionId);
    if (!(await this.isMounted(dir))) {
      await this.ensureImage(image, Math.max(capMb, MIN_PROFILE_MB));
      const holders = await this.loopDevicesOf(image);
      if (holders.length > 0) throw new ProfileInUseError(`the ${key.app} profile of user ${key.userId} is mounted for another session on this node`);
      await mkdir(dir, { recursive: true, mode: 0o711 });
      await run('mount', ['-o', MOUNT_OPTIONS, image, dir]);
      // mkfs makes its root 0755: the profile is its user's alone.
      await chmod(dir, 0o700);
    }
    const usage = await this.usageOf(dir);
    return { dir, ...usage };
  }

  /** Unmounts the session's profile; its usage then, or null when it had none mounted. */
  async detach(sessionId: string): Promise<{ usedMb: number; capMb: number } | null> {
    const dir = this.mountOf(sessionId);
    // What is mounted there: the loop device that the kernel frees after the unmount.
    const device = (await this.mounts()).get(dir);
    if (device === undefined) {
      await rmdir(dir).catch(() => undefined);
      return null;
    }
    const usage = await this.usageOf(dir);
    // The loop device mount(8) set up frees itself (autoclear) once unmounted.
    await run('umount', [dir]);
    await rmdir(dir).catch(() => undefined);
    await this.untilLoopFree(device);
    return usage;
  }

  /**
   * Waits until the kernel has freed a loop device whose file system was just unmounted: umount
   * returns before that, on a loaded host a noticeable while before. Until then the device still
   * holds the image's blocks as the session left them, and mount(8) would reuse it for the same
   * image: a profile restored from a backup in that moment (README) would be read, and written
   * back, as it was before the restore. So the session is not over until its device is free.
   */
  private async untilLoopFree(device: string): Promise<void> {
    const name = /^\/dev\/(loop\d+)$/.exec(device)?.[1];
    if (!name) return; // not a loop device: nothing of the kernel's to wait for
    const bound = path.join('/sys/block', name, 'loop', 'backing_file');
    for (const until = Date.now() + LOOP_FREE_TIMEOUT_MS; ; ) {
      if (!(await stat(bound).then(() => true, () => false))) return;
      if (Date.now() > until) throw new Error(`${device} is still bound ${LOOP_FREE_TIMEOUT_MS} ms after its profile was unmounted`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Whether the session has its profile mounted here. */
  async isAttached(sessionId: string): Promise<boolean> {
    return this.isMounted(this.mountOf(sessionId));
  }

  /** The sessions with a mount point here (mounted or left behind), with when it appeared (epoch ms). */
  async list(): Promise<Array<{ sessionId: string; since: number }>> {
    const base = path.join(this.root, 'mounts');
    const names = await readdir(base).catch(() => [] as string[]);
    const found = [];
    for (const name of names.filter((n) => ID_PATTERN.test(n))) {
      const since = await modifiedAt(path.join(base, name));
      if (since !== null) found.push({ sessionId: name, since });
    }
    return found;
  }

  /** Deletes a profile that no session uses: its image. False when there was none. */
  async remove(key: ProfileKey): Promise<boolean> {
    const image = this.imageOf(key);
    const existed = await stat(image).then(() => true, () => false);
    if (!existed) return false;
    if ((await this.loopDevicesOf(image)).length > 0) throw new ProfileInUseError(`the ${key.app} profile of user ${key.userId} is in use on this node`);
    await rm(image, { force: true });
    return true;
  }

  /**
   * A new image appears complete or not at all: made under a temporary name, then renamed (one
   * that a crash left under its temporary name is removed once surely nobody's). An
   * image smaller than the cap (the quota was raised) is grown, with its file system, before it
   * is mounted (never shrunk: that could lose data).
   */
  private async ensureImage(image: string, capMb: number): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const dir = path.dirname(image);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmpPrefix = `${path.basename(image)}.tmp-`;
    const temporary = (await readdir(dir)).filter((name) => name.startsWith(tmpPrefix));
    await removeOlderThan(dir, temporary, STALE_MAKE_MS);
    const current = await stat(image).catch(() => null);
    if (current) {
      if (current.size >= capMb * MB) return;
      // resize2fs wants a freshly checked file system; -p repairs what is safe (exit 1: it did).
      await run('e2fsck', ['-f', '-p', image]).catch((err: { code?: number }) => {
        if (err.code !== 1) throw err;
      });
      await truncate(image, capMb * MB);
      await run('resize2fs', [image]);
      return;
    }
    const tmp = path.join(dir, `${tmpPrefix}${process.pid}-${Date.now()}`);
    try {
      await writeFile(tmp, '', { mode: 0o600 });
      await truncate(tmp, capMb * MB);
      // No blocks reserved for root (nobody else writes here); the root directory the user's.
      await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-L', 'hs-profile', '-E', `root_owner=${this.owner.uid}:${this.owner.gid}`, tmp]);
      await rename(tmp, image);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  private async usageOf(dir: string): Promise<{ usedMb: number; capMb: number }> {
    const s = await statfs(dir);
    return { usedMb: Math.ceil(((s.blocks - s.bfree) * s.bsize) / MB), capMb: Math.floor((s.blocks * s.bsize) / MB) };
  }

  private async isMounted(dir: string): Promise<boolean> {
    return (await this.mounts()).has(dir);
  }

  private async mounts(): Promise<Map<string, string>> {
    return mountSources(await readFile('/proc/self/mountinfo', 'utf8'));
  }

  /** The loop devices backed by the image (`losetup -j`): empty when nobody has it mounted. */
  private async loopDevicesOf(image: string): Promise<string[]> {
    const { stdout } = await run('losetup', ['-j', image]);
    return stdout.split('\n').flatMap((line) => /^(\/dev\/loop\d+):/.exec(line)?.[1] ?? []);
  }
}
