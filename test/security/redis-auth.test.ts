/**
 * Redis takes no client without a password (issue 11, point 7): not the test stack's, not the
 * one stack/up.sh runs (its lib.sh, on a data directory of its own), and not one an older version
 * left running unauthenticated, which is restarted with the users and keeps its data. The API
 * and the worker each have their own user: the worker's reaches only what the worker side
 * touches, and neither may run Redis's dangerous commands.
 */
import { DEFAULT_NODE_ID } from '../../core/node-names.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RevokedFamilies } from '../../api/auth/revoked-families.js';
import { ConnectCredentials, credentialRevocation } from '../../core/connect-credentials.js';
import { RedisPoolStore, type WarmSlot } from '../../core/pool-store.js';
import { REDIS_PASSWORD_VARIABLES, REDIS_USERS, redisUrl, type RedisPasswords } from '../../core/redis-acl.js';
import { WORKER_HEALTH_PREFIX } from '../../core/worker-health.js';
import { REPO_ROOT } from '../support/paths.js';
import { freePort } from '../support/ports.js';
import { randomRedisPasswords } from '../support/redis-server.js';

const clients: Redis[] = [];
function client(url: string, opts: { stranger?: boolean } = {}): Redis {
  // A stranger speaks RESP2, so that nothing is sent before the test's own commands (RESP3
  // would open with HELLO, which Redis refuses before authentication, and close the connection).
  const redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, ...(opts.stranger && { enableReadyCheck: false, protocol: 2 }) });
  redis.on('error', () => undefined); // the refusals are what the tests look at
  clients.push(redis);
  return redis;
}
/** A client that never authenticates. */
const stranger = (address: string) => client(`redis://${address}`, { stranger: true });

afterAll(() => {
  for (const c of clients) c.disconnect();
});

describe("the test stack's Redis", () => {
  const url = new URL(inject('stack').env.HACKSTREAM_REDIS_URL!);

  it('refuses a client without a password, with a wrong one, and as the default user', async () => {
    const s = stranger(url.host);
    await expect(s.ping()).rejects.toThrow(/NOAUTH/);
    await expect(s.set('hackstream:connect:any-session:any-hash', '{"userId":"me"}')).rejects.toThrow(/NOAUTH/);
    await expect(s.call('AUTH', REDIS_USERS.api, 'not-the-password')).rejects.toThrow(/WRONGPASS/);
    await expect(s.call('AUTH', 'default', '')).rejects.toThrow(/WRONGPASS/);
    expect(url.username).toBe(REDIS_USERS.api);
    expect(await client(url.href).ping()).toBe('PONG');
  });
});

/** stack/lib.sh's ensure_redis PORT DATA_DIR, as stack/up.sh runs it; its output. */
function ensureRedis(port: number, dir: string): string {
  const r = spawnSync('bash', ['-c', 'source stack/lib.sh && ensure_redis "$0" "$1" && echo "restarted=${HS_REDIS_RESTARTED:-}"', String(port), dir], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`ensure_redis failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** What stack/up.sh does with the passwords in secrets.env: the ACL file, by the project's script. */
function writeAclFile(dir: string, passwords: RedisPasswords): void {
  const env = { ...process.env, [REDIS_PASSWORD_VARIABLES.api]: passwords.api, [REDIS_PASSWORD_VARIABLES.worker]: passwords.worker };
  execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/redis-acl.ts', '--output', path.join(dir, 'redis', 'users.acl')], { cwd: REPO_ROOT, env, stdio: 'pipe' });
}

const pidOf = (dir: string) => Number(readFileSync(path.join(dir, 'run', 'redis.pid'), 'utf8'));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("stack/up.sh's Redis", () => {
  let dir: string;
  let address: string;
  let port: number;
  let passwords: RedisPasswords;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hs-redis-stack-'));
    port = await freePort();
    address = `127.0.0.1:${port}`;
    passwords = randomRedisPasswords();
    // A Redis as an older stack/up.sh started it: no password at all, some state in it.
    for (const d of ['redis', 'logs', 'run']) mkdirSync(path.join(dir, d), { recursive: true });
    execFileSync('redis-server', [
      ...['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes', '--daemonize', 'yes'],
      ...['--dir', path.join(dir, 'redis'), '--pidfile', path.join(dir, 'run', 'redis.pid'), '--logfile', path.join(dir, 'logs', 'redis.log')],
      ...['--appendonly', 'yes', '--save', ''],
    ]);
    // `--daemonize` returns before Redis listens, and a client here never reconnects (a refused
    // first connection closes it for good): a fresh one for each try.
    for (let i = 0; ; i++) {
      const old = stranger(address);
      try {
        await old.set('hackstream:revoked-family:before-the-upgrade', '1');
        break;
      } catch (err) {
        if (i > 80) throw err;
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        old.disconnect();
      }
    }
  });

  afterAll(async () => {
    const pid = existsSync(path.join(dir, 'run', 'redis.pid')) ? pidOf(dir) : 0;
    if (pid && alive(pid)) process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && pid && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    rmSync(dir, { recursive: true, force: true });
  });

  it('restarts an unauthenticated Redis from before with its users, keeps its data, and leaves it alone afterwards', async () => {
    const before = pidOf(dir);
    writeAclFile(dir, passwords);
    const out = ensureRedis(port, dir);
    expect(out).toContain('redis: restarting (it answers without a password)');
    expect(out).toContain('restarted=1');
    expect(alive(before)).toBe(false);

    await expect(stranger(address).ping()).rejects.toThrow(/NOAUTH/);
    const api = client(redisUrl(address, 'api', passwords.api));
    expect(await api.get('hackstream:revoked-family:before-the-upgrade')).toBe('1');
    // No password on redis-server's command line (stack/lib.sh passes the ACL file's path); the
    // file holds hashes, mode 600.
    const pid = pidOf(dir);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    for (const p of Object.values(passwords)) expect(cmdline).not.toContain(p);
    const aclFile = path.join(dir, 'redis', 'users.acl');
    expect(statSync(aclFile).mode & 0o777).toBe(0o600);
    for (const p of Object.values(passwords)) expect(readFileSync(aclFile, 'utf8')).not.toContain(p);

    // Run again with the same secrets: nothing to do.
    writeAclFile(dir, passwords);
    const again = ensureRedis(port, dir);
    expect(again).toContain(`redis: running on 127.0.0.1:${port}`);
    expect(again).toContain('restarted=\n');
    expect(pidOf(dir)).toBe(pid);
  });

  it('gives the worker only the worker side’s keys: it cannot lift a revoked family, a lockout or a lock, nor read a token', async () => {
    const api = client(redisUrl(address, 'api', passwords.api));
    const worker = client(redisUrl(address, 'worker', passwords.worker));
    const family = randomUUID();
    await new RevokedFamilies(api, 600).revoke(family);
    await expect(worker.del(`hackstream:revoked-family:${family}`)).rejects.toThrow(/NOPERM/);
    await expect(worker.set('hackstream:revoked-family:before-the-upgrade', '0')).rejects.toThrow(/NOPERM/);
    expect(await new RevokedFamilies(api, 600).isRevoked(family)).toBe(true);
    await expect(worker.del('hackstream:login-fail:900s:account:admin')).rejects.toThrow(/NOPERM/);
    await expect(worker.set('hackstream:lock:quota:someone', 'mine')).rejects.toThrow(/NOPERM/);

    // A session's credentials: the API issues them; the worker deletes them at teardown, unread.
    const session = randomUUID();
    const credentials = new ConnectCredentials(api, { tokenSeconds: 60, resumeSeconds: 300 });
    const token = await credentials.issueToken(session, 'user-1');
    await credentials.issueResume(session, 'user-1');
    const [tokenKey] = (await api.smembers(`hackstream:credentials:${session}`)).filter((k) => k.startsWith('hackstream:connect:'));
    await expect(worker.get(tokenKey!)).rejects.toThrow(/NOPERM/);
    expect(await credentialRevocation(worker).revokeAll(session)).toBe(2);
    expect(await credentials.consumeToken(session, token.value)).toBeNull();

    // The rest of the worker's work: the warm pools' lists and its health record.
    const pools = new RedisPoolStore(worker, `q-${randomBytes(4).toString('hex')}`);
    const pool = { node: DEFAULT_NODE_ID, name: 'firefox-auto', image: 'hackstream/session-firefox:latest' };
    const slot = { sessionId: randomUUID(), app: 'firefox', quality: 'auto', containerId: 'c', containerName: 'n', ip: '10.0.0.2', readyAt: Date.now() } as WarmSlot;
    await pools.add(pool, slot);
    const [listed] = await pools.list(pool);
    expect(await pools.takeBack(pool, listed!)).toBe(true);
    expect(await worker.set(`${WORKER_HEALTH_PREFIX}test`, '{}', 'EX', 5)).toBe('OK');
  });

  it("refuses both users Redis's dangerous commands and the API's user keys outside HackStream's", async () => {
    for (const user of ['api', 'worker'] as const) {
      const c = client(redisUrl(address, user, passwords[user]));
      for (const command of [['FLUSHALL'], ['CONFIG', 'GET', '*'], ['KEYS', '*'], ['ACL', 'LIST'], ['MONITOR'], ['FLUSHDB'], ['SHUTDOWN', 'NOSAVE']]) {
        await expect(c.call(command[0]!, ...command.slice(1)), `${user}: ${command.join(' ')}`).rejects.toThrow(/NOPERM/);
      }
    }
    await expect(client(redisUrl(address, 'api', passwords.api)).set('elsewhere', '1')).rejects.toThrow(/NOPERM/);
  });

  it('restarts Redis when its users change (a new password), and the old password stops working', async () => {
    const rotated = { ...passwords, worker: randomRedisPasswords().worker };
    writeAclFile(dir, rotated);
    expect(ensureRedis(port, dir)).toContain('redis: restarting (its users changed)');
    await expect(stranger(address).call('AUTH', REDIS_USERS.worker, passwords.worker)).rejects.toThrow(/WRONGPASS/);
    expect(await client(redisUrl(address, 'worker', rotated.worker)).ping()).toBe('PONG');
    passwords = rotated;
  });
});
