/**
 * Brute-force protection for logins (rate-limiter-flexible on Redis, so it holds across API
 * restarts and several API processes): failed attempts are counted per account and per source
 * address in a fixed window; past the limit, logins are refused with 429 until the window ends,
 * even with the right password. A successful login clears the account's counter.
 */
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { LoginLimits } from '../../core/config.js';

export type ThrottleState = { blocked: false } | { blocked: true; scope: 'account' | 'address'; retryAfterSeconds: number };

export class LoginThrottle {
  private readonly perAccount: RateLimiterRedis;
  private readonly perAddress: RateLimiterRedis;

  constructor(redis: Redis, limits: LoginLimits) {
    const common = { storeClient: redis, duration: limits.windowSeconds };
    // The window is part of the key: changing the policy starts fresh counters.
    const prefix = `hackstream:login-fail:${limits.windowSeconds}s`;
    this.perAccount = new RateLimiterRedis({ ...common, keyPrefix: `${prefix}:account`, points: limits.maxFailuresPerAccount });
    this.perAddress = new RateLimiterRedis({ ...common, keyPrefix: `${prefix}:address`, points: limits.maxFailuresPerAddress });
  }

  /** Whether attempts for this account or from this address are currently refused. */
  async check(username: string, address: string): Promise<ThrottleState> {
    const [account, source] = await Promise.all([this.perAccount.get(username.toLowerCase()), this.perAddress.get(address)]);
    const over = (res: RateLimiterRes | null, points: number) => res !== null && res.consumedPoints >= points;
    if (over(account, this.perAccount.points)) return { blocked: true, scope: 'account', retryAfterSeconds: Math.ceil(account!.msBeforeNext / 1000) };
    if (over(source, this.perAddress.points)) return { blocked: true, scope: 'address', retryAfterSeconds: Math.ceil(source!.msBeforeNext / 1000) };
    return { blocked: false };
  }

  async recordFailure(username: string, address: string): Promise<void> {
    await Promise.all([this.consume(this.perAccount, username.toLowerCase()), this.consume(this.perAddress, address)]);
  }

  async recordSuccess(username: string): Promise<void> {
    await this.perAccount.delete(username.toLowerCase());
  }

  /** Counts a failure; being over the limit already is not an error here (check() decides). */
  private async consume(limiter: RateLimiterRedis, key: string): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
    }
  }
}
