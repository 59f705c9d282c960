/**
 * Throttled logins in the audit log, aggregated: a brute-force run against a locked account or
 * address would otherwise write one database row per refused request, which is itself a way to
 * load the database. Per account and per address (its throttle key), the first refusal of a
 * lockout writes a 'login.throttled' row at once; the refusals after it are only counted in
 * Redis, and the first attempt let through after the lockout writes them as one summary row
 * (`details.count`). So a lockout costs at most two rows, and the counts add up to every refused
 * attempt. A count no later attempt picks up is kept in Redis for a week, then dropped.
 */
import type { Redis } from 'ioredis';
import type { AuditLog } from '../../core/audit-log.js';
import { countThroughGate } from '../redis-count-gate.js';
import type { ThrottleKeys, ThrottleScope } from './login-throttle.js';

const PENDING_TTL_SECONDS = 7 * 86_400;

/** KEYS: pairs of (pending count, first-row marker). Returns each pending count, and clears both. */
const SETTLE = `
local out = {}
for i = 1, #KEYS, 2 do
  out[#out + 1] = tonumber(redis.call('GET', KEYS[i]) or '0')
  redis.call('DEL', KEYS[i], KEYS[i + 1])
end
return out`;

export interface ThrottledAttempt {
  scope: ThrottleScope;
  /** The throttle key of that scope (the account's name, or the address's /64). */
  key: string;
  username: string;
  ip: string;
  retryAfterSeconds: number;
}

export class ThrottledAudit {
  constructor(
    private readonly redis: Redis,
    private readonly audit: AuditLog,
  ) {}

  /** An attempt refused with 429. */
  async refused(a: ThrottledAttempt): Promise<void> {
    const [pending, marker] = this.redisKeys(a.scope, a.key);
    // The gate lasts the lockout: its first refusal writes a row, the rest wait for `settle`.
    const count = await countThroughGate(this.redis, { count: pending, gate: marker }, Math.max(1, a.retryAfterSeconds), PENDING_TTL_SECONDS);
    if (count === 0) return;
    await this.audit.record({ action: 'login.throttled', actorName: a.username, sourceIp: a.ip, details: { scope: a.scope, count } });
  }

  /** An attempt let through: any lockout of its account or address is over; writes what it refused since its first row. */
  async settle(keys: ThrottleKeys, username: string, ip: string): Promise<void> {
    const counts = (await this.redis.eval(SETTLE, 4, ...this.redisKeys('account', keys.account), ...this.redisKeys('address', keys.address))) as number[];
    const [account = 0, address = 0] = counts.map(Number);
    if (account > 0) await this.summary('account', account, username, ip);
    if (address > 0) await this.summary('address', address, null, ip);
  }

  /** An address's summary names no account: the refusals it stands for may have been for several. */
  private async summary(scope: ThrottleScope, count: number, actorName: string | null, ip: string): Promise<void> {
    await this.audit.record({ action: 'login.throttled', actorName, sourceIp: ip, details: { scope, count, summary: true } });
  }

  private redisKeys(scope: ThrottleScope, key: string): [pending: string, marker: string] {
    const base = `hackstream:login-throttled:${scope}:${key}`;
    return [`${base}:pending`, `${base}:first-row`];
  }
}
