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

export async function startRedis(): Promise<TestRedis & { kill(): Promise<void>; restart(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-redis-'));
  const passwords = randomRedisPasswords();
  const aclFile = path.join(dir, 'users.acl');
  writeFileSync(aclFile, redisAclFile(passwords), { mode: 0o600 });
  const address = `127.0.0.1:${port}`;
  const url = redisUrl(address, 'api', passwords.api);
  const launch = async (): Promise<ChildProcess> => {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--aclfile', aclFile],
      { stdio: 'ignore' },
    );
    await untilAnswers(url, port);
    return proc;
  };
  let proc = await launch();
  const exited = (p: ChildProcess) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r)));
  return {
    url,
    workerUrl: redisUrl(address, 'worker', passwords.worker),
    address,
    /** kill -9: an outage (its data, kept only in memory, is gone with it). */
    async kill() {
      proc.kill('SIGKILL');
      await exited(proc);
    },
    /** Back on the same port with the same users. */
    async restart() {
      proc = await launch();
    },
    async stop() {
      proc.kill('SIGTERM');
      await exited(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function untilAnswers(url: string, port: number): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined); // refused until the server listens; retried below
  try {
    for (let i = 0; ; i++) {
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch (err) {
        if (i > 80) throw new Error(`redis-server did not start on ${port}`, { cause: err });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    probe.disconnect();
  }
}

/** The keys matching a pattern, by SCAN: the control plane's users may not run KEYS (@dangerous). */
export async function keysLike(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanStream({ match: pattern, count: 1000 })) keys.push(...(batch as string[]));
  return keys;
}
