/**
 * The login's tokens, per server, in one file only its owner can read (never the password).
 *
 * The API rotates refresh tokens and treats a spent one presented again as theft, revoking the
 * whole login. So the GUI, the CLI and a reconnect loop must never refresh with the same token
 * at once: a refresh happens under a file lock, and whoever gets the lock first re-reads the
 * file, so the others find the new access token there instead of spending the old refresh token.
 */
import type { ClientPaths } from './client-paths.js';
import { ensurePrivateDir, readOptionalFile, writePrivateFile } from './private-files.js';

export interface StoredLogin {
  username: string;
  access_token: string;
  /** Unix milliseconds. */
  access_expires_at: number;
  /** From then on the access token is refreshed before use (shortly before it expires). */
  access_refresh_after: number;
  refresh_token: string;
  refresh_expires_at: number;
}

interface TokenFile {
  version: 1;
  logins: Record<string, StoredLogin>;
}

/** What the server's /v1/login and /v1/token/refresh answer. */
export interface TokenPair {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
}

/** An access token is refreshed this long before it expires (at most a tenth of its life). */
const EXPIRY_MARGIN_MS = 15_000;

export const storedLogin = (username: string, pair: TokenPair, now = Date.now()): StoredLogin => ({
  username,
  access_token: pair.access_token,
  access_expires_at: now + pair.expires_in * 1000,
  access_refresh_after: now + pair.expires_in * 1000 - Math.min(EXPIRY_MARGIN_MS, pair.expires_in * 100),
  refresh_token: pair.refresh_token,
  refresh_expires_at: now + pair.refresh_expires_in * 1000,
});

export class TokenStore {
  constructor(private readonly paths: ClientPaths) {}

  private read(): TokenFile {
    const text = readOptionalFile(this.paths.tokensFile);
    if (!text) return { version: 1, logins: {} };
    try {
      const parsed = JSON.parse(text) as TokenFile;
      return parsed && typeof parsed.logins === 'object' ? parsed : { version: 1, logins: {} };
    } catch {
      // A damaged file holds no usable login; logging in again rewrites it.
      return { version: 1, logins: {} };
    }
  }

  get(server: string): StoredLogin | undefined {
    const login = this.read().logins[server];
    return login && login.refresh_expires_at > Date.now() ? login : undefined;
  }

  save(server: string, login: StoredLogin): void {
    const file = this.read();
    file.logins[server] = login;
    writePrivateFile(this.paths.tokensFile, `${JSON.stringify(file, null, 2)}\n`);
  }

  remove(server: string): void {
    const file = this.read();
    if (!(server in file.logins)) return;
    delete file.logins[server];
    writePrivateFile(this.paths.tokensFile, `${JSON.stringify(file, null, 2)}\n`);
  }

  /** Runs `fn` holding the token file's lock (other client processes wait for it). */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    ensurePrivateDir(this.paths.configDir);
    // Loaded on first use: it patches fs (graceful-fs) at load, which most commands never need.
    const { default: lockfile } = await import('proper-lockfile');
    const release = await lockfile.lock(this.paths.tokensFile, {
      realpath: false,
      lockfilePath: `${this.paths.tokensFile}.lock`,
      // A refresh is one HTTPS round trip; a holder that died is taken over after `stale`.
      stale: 20_000,
      update: 5_000,
      retries: { retries: 200, factor: 1.2, minTimeout: 20, maxTimeout: 250 },
    });
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }

  /**
   * A usable access token for `server`: the stored one while it is fresh (and not `stale`, the
   * one the server just refused), else one refresh under the lock.
   * Returns undefined when there is no login (or it can no longer be refreshed).
   */
  async accessToken(server: string, refresh: (refreshToken: string) => Promise<TokenPair | 'rejected'>, stale?: string): Promise<string | undefined> {
    const usable = (l: StoredLogin | undefined) => l && l.access_token !== stale && (l.access_refresh_after ?? 0) > Date.now();
    const current = this.get(server);
    if (!current) return undefined;
    if (usable(current)) return current.access_token;
    return this.locked(async () => {
      const now = this.get(server);
      if (!now) return undefined;
      if (usable(now)) return now.access_token; // another process refreshed while we waited
      const pair = await refresh(now.refresh_token);
      if (pair === 'rejected') {
        this.remove(server);
        return undefined;
      }
      this.save(server, storedLogin(now.username, pair));
      return pair.access_token;
    });
  }
}
