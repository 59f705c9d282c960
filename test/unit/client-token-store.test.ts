import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { storedLogin, TokenStore, type StoredLogin, type TokenPair } from '../../client/src/token-store.js';
import { tempHome, type TempHome } from './client-fixtures.js';

const SERVER = 'https://h.example.org';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let home: TempHome;
afterEach(() => home?.cleanup());

const OLD: TokenPair = { access_token: 'acc-old', expires_in: 900, refresh_token: 'ref-old', refresh_expires_in: 86_400 };
/** alice's login as the store records it, obtained `ageMs` ago (its access token lives 900 s). */
const login = (ageMs = 0, pair: TokenPair = OLD): StoredLogin => storedLogin('alice', pair, Date.now() - ageMs);
const EXPIRED = 901_000;

const pair = (n: number): TokenPair => ({ access_token: `acc-${n}`, expires_in: 900, refresh_token: `ref-${n}`, refresh_expires_in: 86_400 });

/** A refresher that counts its calls and answers after `delayMs`. */
function refresher(answer: TokenPair | 'rejected', delayMs = 0) {
  const calls: string[] = [];
  const fn = async (refreshToken: string) => {
    calls.push(refreshToken);
    await new Promise((r) => setTimeout(r, delayMs));
    return answer;
  };
  return { fn, calls };
}

const stored = () => JSON.parse(readFileSync(home.paths.tokensFile, 'utf8')).logins as Record<string, StoredLogin>;

describe('the token store', () => {
  it('answers the stored access token while it is fresh, without refreshing', async () => {
    home = tempHome();
    const store = new TokenStore(home.paths);
    store.save(SERVER, login());
    const r = refresher(pair(1));
    expect(await store.accessToken(SERVER, r.fn)).toBe('acc-old');
    expect(r.calls).toEqual([]);
  });

  it('refreshes once an expired token, saving the new pair', async () => {
    home = tempHome();
    const store = new TokenStore(home.paths);
    store.save(SERVER, login(EXPIRED));
    const r = refresher(pair(1));
    const before = Date.now();
    expect(await store.accessToken(SERVER, r.fn)).toBe('acc-1');
    expect(r.calls).toEqual(['ref-old']);
    const saved = stored()[SERVER]!;
    expect(saved).toMatchObject({ username: 'alice', access_token: 'acc-1', refresh_token: 'ref-1' });
    expect(saved.access_expires_at).toBeGreaterThanOrEqual(before + 900_000);
    expect(saved.access_expires_at).toBeLessThanOrEqual(Date.now() + 900_000);
    expect(saved.refresh_expires_at).toBeGreaterThanOrEqual(before + 86_400_000);
    // The new token is fresh: no second refresh.
    expect(await store.accessToken(SERVER, r.fn)).toBe('acc-1');
    expect(r.calls).toHaveLength(1);
  });

  it('still uses a token 20 s before it expires', async () => {
    home = tempHome();
    const store = new TokenStore(home.paths);
    store.save(SERVER, login(880_000));
    const r = refresher(pair(2));
    expect(await store.accessToken(SERVER, r.fn)).toBe('acc-old');
    expect(r.calls).toEqual([]);
  });

  it('refreshes a token about to expire (within 15 s) before using it', async () => {
    home = tempHome();
    const store = new TokenStore(home.paths);
    store.save(SERVER, login(890_000));
    const r = refresher(pair(2));
    expect(await store.accessToken(SERVER, r.fn)).toBe('acc-2');
    expect(r.calls).toEqual(['ref-old']);
  });

  it('refreshes a fresh-looking token the server just refused', async () => {
    home = tempHome();
    const store = new TokenStore(home.paths);
    store.save(SERVER, login());
    const r = refresher(pair(3));
    expect(await store.accessToken(SERVER, r.fn, 'acc-old')).toBe('acc-3');
    expect(r.calls).toEqual(['ref-old']);
  });

  it('forgets the login when the server rejects the refresh', async () => {
    home = tempHome();
    const store = new TokenStore(home.paths);
    store.save(SERVER, login(EXPIRED));
    store.save('https://other.example.org', login());
    const r = refresher('rejected');
    expect(await store.accessToken(SERVER, r.fn)).toBeUndefined();
    expect(r.calls).toEqual(['ref-old']);
    expect(store.get(SERVER)).toBeUndefined();
    expect(Object.keys(stored())).toEqual(['https://other.example.org']);
  });

  it('answers nothing, without refreshing, when there is no login or its refresh token has expired', async () => {
    home = tempHome();
    const store = new TokenStore(home.paths);
    const r = refresher(pair(4));
    expect(await store.accessToken(SERVER, r.fn)).toBeUndefined();
    store.save(SERVER, login(86_401_000));
    expect(await store.accessToken(SERVER, r.fn)).toBeUndefined();
    expect(r.calls).toEqual([]);
  });

  it('treats a damaged token file as no login', async () => {
    home = tempHome();
    const store = new TokenStore(home.paths);
    store.save(SERVER, login());
    writeFileSync(home.paths.tokensFile, '{"version":1,"logins":');
    expect(store.get(SERVER)).toBeUndefined();
    expect(await store.accessToken(SERVER, refresher(pair(5)).fn)).toBeUndefined();
  });

  it('refreshes once for two concurrent callers with an expired token, and both get the new token', async () => {
    home = tempHome();
    new TokenStore(home.paths).save(SERVER, login(EXPIRED));
    const r = refresher(pair(6), 150);
    // Two stores on the same files, like the CLI and a reconnect loop.
    const tokens = await Promise.all([new TokenStore(home.paths).accessToken(SERVER, r.fn), new TokenStore(home.paths).accessToken(SERVER, r.fn)]);
    expect(tokens).toEqual(['acc-6', 'acc-6']);
    expect(r.calls).toEqual(['ref-old']);
    expect(existsSync(`${home.paths.tokensFile}.lock`)).toBe(false);
  });

  it('refreshes once for two client processes with an expired token, and both get the new token', { timeout: 30_000 }, async () => {
    home = tempHome();
    new TokenStore(home.paths).save(SERVER, login(EXPIRED));
    const refreshLog = path.join(home.root, 'refreshes');
    const child = path.join(home.root, 'child.mts');
    const src = (f: string) => JSON.stringify(path.join(repoRoot, 'client/src', f));
    // Each process waits on stdin after loading, so both ask at the same moment; its refresh
    // takes 300 ms, so the other one is sure to find the token expired and wait for the lock.
    writeFileSync(
      child,
      `import { appendFileSync } from 'node:fs';
import { clientPaths } from ${src('client-paths.ts')};
import { TokenStore } from ${src('token-store.ts')};
const [configHome, log, server] = process.argv.slice(2);
const store = new TokenStore(clientPaths({ ...process.env, XDG_CONFIG_HOME: configHome }));
process.stdout.write('ready\\n');
process.stdin.once('data', async () => {
  const token = await store.accessToken(server, async (refreshToken) => {
    appendFileSync(log, refreshToken + ' by ' + process.pid + '\\n');
    await new Promise((r) => setTimeout(r, 300));
    return { access_token: 'acc-from-' + process.pid, expires_in: 900, refresh_token: 'ref-from-' + process.pid, refresh_expires_in: 86400 };
  });
  process.stdout.write('token ' + token + '\\n');
  process.exit(0);
});
`,
    );
    const tsxCli = path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'cli.mjs');
    const start = () => {
      const proc = spawn(process.execPath, [tsxCli, child, home.env.XDG_CONFIG_HOME!, refreshLog, SERVER], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
      proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const ready = new Promise<void>((resolve, reject) => {
        proc.stdout.on('data', () => out.includes('ready\n') && resolve());
        proc.once('close', () => reject(new Error(`child exited before it was ready: ${err}`)));
      });
      const done = new Promise<string>((resolve, reject) =>
        proc.once('close', (code) => (code === 0 ? resolve(/token (\S+)/.exec(out)?.[1] ?? '') : reject(new Error(`child exited ${code}: ${err}`)))),
      );
      done.catch(() => undefined);
      return { proc, ready, done };
    };
    const a = start();
    const b = start();
    await Promise.all([a.ready, b.ready]);
    a.proc.stdin.end('go\n');
    b.proc.stdin.end('go\n');
    const tokens = await Promise.all([a.done, b.done]);

    const refreshes = readFileSync(refreshLog, 'utf8').trim().split('\n');
    expect(refreshes).toHaveLength(1);
    const refresherPid = /^ref-old by (\d+)$/.exec(refreshes[0]!)?.[1];
    expect(refresherPid).toBeDefined();
    expect(tokens).toEqual([`acc-from-${refresherPid}`, `acc-from-${refresherPid}`]);
    expect(stored()[SERVER]).toMatchObject({ access_token: `acc-from-${refresherPid}`, refresh_token: `ref-from-${refresherPid}` });
  });
});
