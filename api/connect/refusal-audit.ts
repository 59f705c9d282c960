/**
 * ForwardAuth refusals in the audit log, bounded: a scanner or a flood of bad tokens must not
 * write one row per request. Each source address writes at most one `connect.refused` row per
 * window; the row carries how many refusals that address had since its previous row. Redis
 * holds the counter and the window's gate (SET NX EX), so the bound holds across API processes.
 */
import type { Redis } from 'ioredis';
import type { AuditLog } from '../../core/audit-log.js';
import { countThroughGate } from '../redis-count-gate.js';

export const REFUSAL_KEY_PREFIX = 'hackstream:connect-refused';
/** A counter left by an address that stopped is dropped after a day. */
const COUNT_TTL_SECONDS = 86_400;

export interface Refusal {
  sourceIp: string;
  status: number;
  reason: string;
}

export class RefusalAudit {
  constructor(
    private readonly redis: Redis,
    private readonly audit: AuditLog,
    private readonly windowSeconds = 60,
  ) {}

  async refused(r: Refusal): Promise<void> {
    const keys = { count: `${REFUSAL_KEY_PREFIX}:count:${r.sourceIp}`, gate: `${REFUSAL_KEY_PREFIX}:gate:${r.sourceIp}` };
    const refusals = await countThroughGate(this.redis, keys, this.windowSeconds, COUNT_TTL_SECONDS);
    if (refusals === 0) return; // this window's row is written: only counted
    await this.audit.record({
      action: 'connect.refused',
      sourceIp: r.sourceIp || null,
      details: { refusals, window_seconds: this.windowSeconds, status: r.status, reason: r.reason },
    });
  }
}
