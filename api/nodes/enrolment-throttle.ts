/**
 * How many enrolments one source address may send per hour (rate-limiter-flexible on Redis, so it
 * holds across API restarts and processes; addresses keyed as for logins, an IPv6 /64 as one).
 * Enrolment is open to anyone: this, and the cap on nodes waiting for approval, keep it cheap.
 */
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { throttleAddressKey } from '../auth/address-key.js';

export class EnrolmentThrottle {
  private readonly limiter: RateLimiterRedis;

  constructor(redis: Redis, perHour: number) {
    // The limit is part of the key: changing it starts fresh counters.
    this.limiter = new RateLimiterRedis({ storeClient: redis, duration: 3600, points: perHour, keyPrefix: `hackstream:node-enrol:${perHour}` });
  }

  /** Counts an enrolment; the seconds to wait when the address is over its limit, else null. */
  async consume(address: string): Promise<number | null> {
    try {
      await this.limiter.consume(throttleAddressKey(address));
      return null;
    } catch (err) {
      if (err instanceof RateLimiterRes) return Math.max(1, Math.ceil(err.msBeforeNext / 1000));
      throw err;
    }
  }
}
