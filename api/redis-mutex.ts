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
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/** What the critical section can ask of its lock. */
export interface HeldLock {
  /** Throws (503 busy) unless this process still holds the lock: the fence before a write. */
  assertHeld(): Promise<void>;
}

export class RedisMutex {
  constructor(
    private readonly redis: Redis,
    private readonly opts: { leaseMs: number; waitMs: number } = { leaseMs: 10_000, waitMs: 10_000 },
  ) {}

  /**
   * Runs `fn` holding the lock. The lease is renewed every third of it while `fn` runs, so a
   * slow critical section keeps it; if the process stops (or its event loop freezes past the
   * lease) the lock expires, and `assertHeld` lets `fn` check it still holds it before it writes.
   */
  async withLock<T>(name: string, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
    const key = `hackstream:lock:${name}`;
    const owner = randomBytes(16).toString('hex');
    const deadline = Date.now() + this.opts.waitMs;
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      if ((await this.redis.set(key, owner, 'PX', this.opts.leaseMs, 'NX')) === 'OK') break;
      if (Date.now() > deadline) throw new HttpError(503, 'busy', 'the service is busy; try again', { 'Retry-After': '1' });
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    }
    const { leaseMs } = this.opts;
    const renewal = setInterval(() => {
      this.redis.eval(RENEW, 1, key, owner, leaseMs).catch(() => undefined); // a failure shows at assertHeld
    }, leaseMs / 3);
    const lock: HeldLock = {
      assertHeld: async () => {
        if ((await this.redis.get(key)) !== owner) throw new HttpError(503, 'busy', 'the service is busy; try again', { 'Retry-After': '1' });
      },
    };
    try {
      return await fn(lock);
    } finally {
      clearInterval(renewal);
      await this.redis.eval(RELEASE, 1, key, owner);
    }
  }
}
