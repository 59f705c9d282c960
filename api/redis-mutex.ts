/**
 * Short critical sections across every API process: a Redis lock (SET NX PX with a random owner
 * token, released only by its owner via a compare-and-delete script, expiring by itself if the
 * holder dies). Used where a check and a write must not interleave: quota reservations per user,
 * and changes that could remove the last admin.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { HttpError } from './http-error.js';

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export class RedisMutex {
  constructor(
    private readonly redis: Redis,
    private readonly opts: { leaseMs: number; waitMs: number } = { leaseMs: 10_000, waitMs: 10_000 },
  ) {}

  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const key = `hackstream:lock:${name}`;
    const owner = randomBytes(16).toString('hex');
    const deadline = Date.now() + this.opts.waitMs;
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      if ((await this.redis.set(key, owner, 'PX', this.opts.leaseMs, 'NX')) === 'OK') break;
      if (Date.now() > deadline) throw new HttpError(503, 'busy', 'the service is busy; try again', { 'Retry-After': '1' });
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    }
    try {
      return await fn();
    } finally {
      await this.redis.eval(RELEASE, 1, key, owner);
    }
  }
}
