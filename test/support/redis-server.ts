/**
 * A throwaway redis-server (Debian package) on a free loopback port, data in a temp dir, with
 * the control plane's users and rules (core/redis-acl.ts) as in production: nothing gets in
 * without a password, so every test that uses it runs authenticated.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { redisAclFile, redisUrl, type RedisPasswords } from '../../core/redis-acl.js';
import { freePort } from './ports.js';

export interface TestRedis {
  /** The API's user (HACKSTREAM_REDIS_URL of the API, and of tests that look into Redis). */
  url: string;
  /** The worker's user. */
  workerUrl: string;
  /** host:port, no credentials. */
  address: string;
  stop(): Promise<void>;
}

export const randomRedisPasswords = (): RedisPasswords => ({ api: randomBytes(24).toString('hex'), worker: randomBytes(24).toString('hex') });

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-redis-'));
  const passwords = randomRedisPasswords();
  const aclFile = path.join(dir, 'users.acl');
  writeFileSync(aclFile, redisAclFile(passwords), { mode: 0o600 });
  const proc: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--aclfile', aclFile],
    { stdio: 'ignore' },
  );
  const address = `127.0.0.1:${port}`;
  const url = redisUrl(address, 'api', passwords.api);
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined); // refused until the server listens; retried below
  for (let i = 0; ; i++) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (err) {
      if (i > 80) throw new Error(`redis-server did not start on ${port}`, { cause: err });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  return {
    url,
    workerUrl: redisUrl(address, 'worker', passwords.worker),
    address,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The keys matching a pattern, by SCAN: the control plane's users may not run KEYS (@dangerous). */
export async function keysLike(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanStream({ match: pattern, count: 1000 })) keys.push(...(batch as string[]));
  return keys;
}
