/**
 * Persistent profiles' volumes on a real kernel (loop devices, ext4, mount): the size limit is the
 * file system's, a profile keeps its data between sessions, one session at a time mounts it, and
 * its file system's root belongs to the session's user only.
 */
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProfileVolumes } from '../../activities/profile-volumes.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'hs-profiles-'));
const owner = { uid: 101000, gid: 101000 };
const volumes = new ProfileVolumes(root, owner);
const attached: string[] = [];

afterAll(async () => {
  for (const id of attached) await volumes.detach(id).catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

async function attach(userId: string, capMb: number) {
  const sessionId = randomUUID();
  attached.push(sessionId);
  return { sessionId, ...(await volumes.attach(sessionId, { userId, app: 'firefox' }, capMb)) };
}

/** Writes 1 MiB blocks until the file system refuses one; returns how many MiB it took, and the error. */
async function fill(file: string): Promise<{ mb: number; code: string | undefined }> {
  const handle = await open(file, 'w');
  const block = Buffer.alloc(1024 * 1024, 7);
  let mb = 0;
  try {
    for (;;) {
      await handle.write(block);
      await handle.sync();
      mb++;
      if (mb > 1000) return { mb, code: undefined };
    }
  } catch (err) {
    return { mb, code: (err as NodeJS.ErrnoException).code };
  } finally {
    await handle.close();
  }
}

describe('a persistent profile volume', () => {
  it('is a file system of the cap, the session user\'s alone, mounted nosuid, nodev, noexec', async () => {
    const p = await attach(randomUUID(), 40);
    expect(p.capMb).toBeGreaterThan(30);
    expect(p.capMb).toBeLessThanOrEqual(40);
    const st = statSync(p.dir);
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o777 }).toEqual({ ...owner, mode: 0o700 });
    const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === p.dir);
    expect(line?.split(' ')[5]).toMatch(/nosuid/);
    expect(line?.split(' ')[5]).toMatch(/nodev/);
    expect(line?.split(' ')[5]).toMatch(/noexec/);
    // The image itself is root's, under directories only root may enter.
    expect(statSync(path.join(root, 'images')).mode & 0o777).toBe(0o700);
    expect(await volumes.detach(p.sessionId)).toMatchObject({ capMb: p.capMb });
  });

  it('refuses writes at its cap (ENOSPC), and its usage says so', async () => {
    const p = await attach(randomUUID(), 32);
    const { mb, code } = await fill(path.join(p.dir, 'big'));
    expect(code).toBe('ENOSPC');
    expect(mb).toBeGreaterThan(20);
    expect(mb).toBeLessThanOrEqual(32);
    const usage = await volumes.detach(p.sessionId);
    expect(usage!.usedMb).toBeGreaterThanOrEqual(usage!.capMb - 1);
  });

  it('keeps its data for the next session of the same user and app, and no other user sees it', async () => {
    const userId = randomUUID();
    const first = await attach(userId, 24);
    writeFileSync(path.join(first.dir, 'bookmark'), 'https://example.org/');
    expect(await volumes.list()).toContainEqual(expect.objectContaining({ sessionId: first.sessionId }));
    await volumes.detach(first.sessionId);
    expect(await volumes.isAttached(first.sessionId)).toBe(false);
    expect((await volumes.list()).map((m) => m.sessionId)).not.toContain(first.sessionId);

    const second = await attach(userId, 24);
    expect(readFileSync(path.join(second.dir, 'bookmark'), 'utf8')).toBe('https://example.org/');
    const other = await attach(randomUUID(), 24);
    expect(() => readFileSync(path.join(other.dir, 'bookmark'))).toThrow(/ENOENT/);
    await volumes.detach(second.sessionId);
    await volumes.detach(other.sessionId);
  });

  it('is mounted for one session at a time; a retried attach of the same session finds it mounted', async () => {
    const userId = randomUUID();
    const first = await attach(userId, 24);
    expect((await volumes.attach(first.sessionId, { userId, app: 'firefox' }, 24)).dir).toBe(first.dir);
    await expect(attach(userId, 24)).rejects.toMatchObject({ name: 'ProfileInUseError' });
    await expect(volumes.remove({ userId, app: 'firefox' })).rejects.toMatchObject({ name: 'ProfileInUseError' });
    await volumes.detach(first.sessionId);
    expect(await volumes.remove({ userId, app: 'firefox' })).toBe(true);
    expect(await volumes.remove({ userId, app: 'firefox' })).toBe(false);
  });

  it('removes a temporary image a make cut short left behind, once it is old enough to be no other make\'s', async () => {
    const userId = randomUUID();
    const image = volumes.imageOf({ userId, app: 'firefox' });
    mkdirSync(path.dirname(image), { recursive: true });
    // A crash's, an hour ago; another attempt's, under way; another app's profile's own, left alone.
    const [stale, underWay, otherApp] = [`${image}.tmp-1-1`, `${image}.tmp-2-2`, path.join(path.dirname(image), 'thunderbird.ext4.tmp-3-3')];
    for (const f of [stale, underWay, otherApp]) writeFileSync(f, '');
    const anHourAgo = new Date(Date.now() - 3_600_000);
    for (const f of [stale, otherApp]) utimesSync(f, anHourAgo, anHourAgo);
    const p = await attach(userId, 24);
    expect(readdirSync(path.dirname(image)).sort()).toEqual(['firefox.ext4', path.basename(underWay), path.basename(otherApp)].sort());
    await volumes.detach(p.sessionId);
  });

  it('grows when the quota grew, keeping its data', async () => {
    const userId = randomUUID();
    const small = await attach(userId, 24);
    writeFileSync(path.join(small.dir, 'kept'), 'yes');
    await volumes.detach(small.sessionId);
    const large = await attach(userId, 64);
    expect(large.capMb).toBeGreaterThan(small.capMb + 30);
    expect(readFileSync(path.join(large.dir, 'kept'), 'utf8')).toBe('yes');
    await volumes.detach(large.sessionId);
  });

  it('is free once detached: no loop device holds its image, and a backup copied over it right then is what the next session reads', async () => {
    // The kernel frees a loop device a moment after its unmount; a session's end waits for that.
    // Before it did, a restore in that moment was read (and written back) as it was before it.
    const userId = randomUUID();
    const image = volumes.imageOf({ userId, app: 'firefox' });
    const backup = path.join(root, `backup-${userId}.ext4`);
    const session = async (work: (dir: string) => void) => {
      const p = await attach(userId, 24);
      work(p.dir);
      await volumes.detach(p.sessionId);
      expect(execFileSync('losetup', ['-j', image], { encoding: 'utf8' })).toBe('');
    };
    for (let round = 0; round < 12; round++) {
      await session((dir) => writeFileSync(path.join(dir, 'note'), `kept ${round}`));
      copyFileSync(image, backup);
      await session((dir) => {
        writeFileSync(path.join(dir, 'note'), `later ${round}`);
        writeFileSync(path.join(dir, `churn-${round}`), Buffer.alloc(256 * 1024, round));
      });
      copyFileSync(backup, image);
      let read = '';
      await session((dir) => (read = readFileSync(path.join(dir, 'note'), 'utf8')));
      expect(read, `round ${round}`).toBe(`kept ${round}`);
    }
  });

  it('takes no path from anything but an id', async () => {
    await expect(volumes.attach('../etc', { userId: randomUUID(), app: 'firefox' }, 24)).rejects.toThrow(/not a session id/);
    await expect(volumes.attach(randomUUID(), { userId: '../../x', app: 'firefox' }, 24)).rejects.toThrow(/not a user id/);
  });
});
