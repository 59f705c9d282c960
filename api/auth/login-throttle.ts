/**
 * Brute-force protection for logins (rate-limiter-flexible on Redis, so it holds across API
 * restarts and several API processes): attempts are counted per account and per source address
 * (an IPv6 /64, see address-key.ts) in a fixed window; past the limit, logins are refused with
 * 429 until the window ends, even with the right password.
 *
 * An attempt is counted before its password is checked (`reserve`: Redis INCR, atomic), so N
 * parallel guesses cannot all pass a check made before any of them has failed; the point is
 * given back when the attempt turns out not to be a failure (`recordSuccess`, `refund`). A
 * successful login clears the account's counter.
 */
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { LoginLimits } from '../../core/config.js';
import { throttleAddressKey } from './address-key.js';

export type ThrottleScope = 'account' | 'address';
export interface Refusal {
  scope: ThrottleScope;
  retryAfterSeconds: number;
}
/** The counters an attempt is counted under. */
export type ThrottleKeys = Record<ThrottleScope, string>;

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

  keys(username: string, address: string): ThrottleKeys {
    return { account: username.toLowerCase(), address: throttleAddressKey(address) };
  }

  /**
   * Counts this attempt; null when it may go on to the password check. A refused attempt costs
   * nothing: its points (on both counters) are given back, so the counters stay at the limit.
   */
  async reserve(username: string, address: string): Promise<Refusal | null> {
    const k = this.keys(username, address);
    const [account, source] = await Promise.allSettled([this.perAccount.consume(k.account), this.perAddress.consume(k.address)]);
    if (account.status === 'fulfilled' && source.status === 'fulfilled') return null;
    await Promise.all([this.giveBack(this.perAccount, k.account, account), this.giveBack(this.perAddress, k.address, source)]);
    return refusal('account', account) ?? refusal('address', source)!;
  }

  /** The reserved attempt was neither a success nor a failure (its password was not checked). */
  async refund(username: string, address: string): Promise<void> {
    const k = this.keys(username, address);
    await Promise.all([this.perAccount.reward(k.account), this.perAddress.reward(k.address)]);
  }

  /** The reserved attempt succeeded: the account starts afresh, the address gets its point back. */
  async recordSuccess(username: string, address: string): Promise<void> {
    const k = this.keys(username, address);
    await Promise.all([this.perAccount.delete(k.account), this.perAddress.reward(k.address)]);
  }

  /** Gives back a point `consume` took, whether it was within the limit or over it. */
  private async giveBack(limiter: RateLimiterRedis, key: string, result: PromiseSettledResult<RateLimiterRes>): Promise<void> {
    if (result.status === 'fulfilled' || result.reason instanceof RateLimiterRes) await limiter.reward(key);
  }
}

/** The refusal a rejected `consume` means; a Redis error is thrown as it is. */
function refusal(scope: ThrottleScope, result: PromiseSettledResult<RateLimiterRes>): Refusal | null {
  if (result.status === 'fulfilled') return null;
  if (!(result.reason instanceof RateLimiterRes)) throw result.reason;
  return { scope, retryAfterSeconds: Math.max(1, Math.ceil(result.reason.msBeforeNext / 1000)) };
}
