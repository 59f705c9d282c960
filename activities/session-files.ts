/**
 * Per-session secrets on the worker's host, bind-mounted read-only into the session's container
 * at /run/hackstream: the TLS certificate and key of its xpra SSL socket and the public key its
 * token check verifies with (never a key that mints tokens), and the bound below which it refuses
 * native tokens after an account change. Deleting the directory at teardown is
 * what revokes them.
 */
import { webcrypto } from 'node:crypto';
import { constants } from 'node:fs';
import { chown, mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { modifiedAt, removeOlderThan, writeFileAtomically } from '../core/atomic-file.js';
import { P256_ECDSA, privateKeyPem } from '../core/x509.js';

/** Must match images/session (uid of the `hs` user, mount point, file names). */
export const SESSION_UID = 1000;

/** Who the session's user is on the host (worker/user-namespace.ts): its files belong to it. */
export interface FileOwner {
  uid: number;
  gid: number;
}
export const SESSION_FILES_MOUNT = '/run/hackstream';
/** In the name of a directory being written, before its rename to the session's id. */
const TMP_MARK = '.tmp-';
export const FILES = { cert: 'tls-cert.pem', key: 'tls-key.pem', tokenPublicKey: 'token.pub', tokensRefusedUntil: 'token.refused-until', openUrl: 'open-url' } as const;

/**
 * The session files that change while its container runs: a claimed warm container's token key
 * and URL, an account change's token bound. SessionFiles writes them into the session's
 * directory on a Docker host; on Kubernetes, KubeLiveFiles into its pod (kube-live-files.ts).
 */
export type LiveSessionFiles = Pick<SessionFiles, 'writeTokenPublicKey' | 'handOverUrl' | 'refuseNativeTokens'>;

export interface SessionFileContents {
  certPem: string;
  keyPem: string;
  /**
   * Hex of the session's token public key (core/session-token-key.ts). Absent for a warm container
   * until a session claims it: without it, the container's token check admits nobody.
   */
  tokenPublicKeyHex?: string;
}

export class SessionFiles {
  constructor(
    private readonly root: string,
    private readonly owner: FileOwner = { uid: SESSION_UID, gid: SESSION_UID },
  ) {}

  dirOf(sessionId: string): string {
    return path.join(this.root, sessionId);
  }

  /** The certificate already in place (a retried activity reuses it), or null. */
  async currentCertificate(sessionId: string): Promise<string | null> {
    try {
      return await readFile(path.join(this.dirOf(sessionId), FILES.cert), 'utf8');
    } catch {
      return null;
    }
  }

  async write(sessionId: string, contents: SessionFileContents): Promise<string> {
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    const dir = this.dirOf(sessionId);
    const tmp = `${dir}${TMP_MARK}${process.pid}-${Date.now()}`;
    await mkdir(tmp, { mode: 0o500 });
    type Entry = [name: string, data: string, mode: number];
    const files: Entry[] = [
      [FILES.key, contents.keyPem, 0o400],
      ...(contents.tokenPublicKeyHex ? ([[FILES.tokenPublicKey, contents.tokenPublicKeyHex, 0o400]] as Entry[]) : []),
      [FILES.cert, contents.certPem, 0o400],
      // No bound yet; account changes append theirs (refuseNativeTokens), so it stays writable
      // by its owner; the container's mount is read-only.
      [FILES.tokensRefusedUntil, '', 0o600],
    ];
    for (const [name, data, mode] of files) {
      const file = path.join(tmp, name);
      await writeFile(file, data, { mode });
      await this.ownBySessionUser(file);
    }
    await this.ownBySessionUser(tmp);
    // Complete or absent: the directory appears in one step.
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return dir;
  }

  /** Puts the token public key in place (claiming a warm container); atomic, visible through the mount. */
  async writeTokenPublicKey(sessionId: string, tokenPublicKeyHex: string): Promise<void> {
    const file = path.join(this.dirOf(sessionId), FILES.tokenPublicKey);
    await writeFileAtomically(file, tokenPublicKeyHex, { mode: 0o400, prepare: (tmp) => this.ownBySessionUser(tmp) });
  }

  /**
   * Hands a claimed warm container's Firefox the session's URL: the container's watcher
   * (images/session/url-watch.sh) sees the file appear (atomic, by rename) and opens it.
   */
  async handOverUrl(sessionId: string, url: string): Promise<void> {
    const file = path.join(this.dirOf(sessionId), FILES.openUrl);
    await writeFileAtomically(file, url, { mode: 0o400, prepare: (tmp) => this.ownBySessionUser(tmp) });
  }

  /**
   * From now on the container refuses native tokens issued until `issuedUntil` (epoch ms): those
   * from before an account change. The file is a list the container takes the highest of, and
   * this only appends to it (one write, O_APPEND): changes that write at once never lower the
   * bound, with no lock. False when the session has no files (it ended).
   */
  async refuseNativeTokens(sessionId: string, issuedUntil: number): Promise<boolean> {
    const file = path.join(this.dirOf(sessionId), FILES.tokensRefusedUntil);
    let handle;
    try {
      // Never created here: it exists from the session's start, owned by the session's user.
      handle = await open(file, constants.O_WRONLY | constants.O_APPEND);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    try {
      await handle.write(`${issuedUntil}\n`);
    } finally {
      await handle.close();
    }
    return true;
  }

  async remove(sessionId: string): Promise<void> {
    await rm(this.dirOf(sessionId), { recursive: true, force: true });
    await this.removePendingKey(sessionId);
  }

  /**
   * The session's private key while its certificate is being signed on the control host: made
   * here, never sent (only its public half is), kept private to this process's user, and moved
   * into the session's directory with the certificate (`write`). Named like a half-written
   * directory, so a session that never got its certificate leaves nothing `collectLeftovers`
   * misses. Returns the key, made now or by an earlier attempt.
   */
  async pendingKey(sessionId: string): Promise<string> {
    const file = this.pendingKeyFile(sessionId);
    const existing = await readFile(file, 'utf8').catch(() => null);
    if (existing) return existing;
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    const keys = await webcrypto.subtle.generateKey(P256_ECDSA, true, ['sign', 'verify']);
    await writeFileAtomically(file, privateKeyPem(keys.privateKey), { mode: 0o600 });
    return readFile(file, 'utf8');
  }

  /** Once the key is in the session's directory. */
  async removePendingKey(sessionId: string): Promise<void> {
    await rm(this.pendingKeyFile(sessionId), { force: true });
  }

  /** The pending key's file (see pendingKey). */
  private pendingKeyFile(sessionId: string): string {
    return path.join(this.root, `${sessionId}${TMP_MARK}key.pem`);
  }

  /** The private key of the session's files, once written. */
  async currentKey(sessionId: string): Promise<string | null> {
    return readFile(path.join(this.dirOf(sessionId), FILES.key), 'utf8').catch(() => null);
  }

  /** The sessions that have files, each with when its directory appeared (epoch ms). */
  async list(): Promise<Array<{ sessionId: string; since: number }>> {
    const found = [];
    for (const name of await this.entries()) {
      if (name.includes(TMP_MARK)) continue;
      const since = await modifiedAt(path.join(this.root, name));
      if (since !== null) found.push({ sessionId: name, since });
    }
    return found;
  }

  /** Removes the half-written directories a crashed writer left, older than `olderThanMs`. */
  async collectLeftovers(olderThanMs: number): Promise<number> {
    return removeOlderThan(this.root, (await this.entries()).filter((name) => name.includes(TMP_MARK)), olderThanMs);
  }

  private async entries(): Promise<string[]> {
    return readdir(this.root).catch(() => [] as string[]);
  }

  /** Only the session's (non-root) user reads these inside the container. */
  private async ownBySessionUser(file: string): Promise<void> {
    if (process.getuid?.() === 0) await chown(file, this.owner.uid, this.owner.gid);
  }
}
