/**
 * Quotas: per-user limits with defaults per role (HACKSTREAM_ROLE_POLICIES) that a user's own
 * overrides replace field by field. `reserve` enforces the concurrent-session limit atomically:
 * under a per-user Redis lock it counts the user's live sessions and writes the new session's
 * row, which is the reservation. The lock is held for milliseconds (count + insert), not for the
 * session's start, works the same with SQLite and PostgreSQL and across API processes; a
 * database lock would depend on the driver, and a per-user workflow would add a round trip to
 * every create.
 */
import type { ApiConfig } from '../../core/config.js';
import { User, type QuotaOverrides } from '../../core/db/entities.js';
import type { Role } from '../../core/roles.js';
import type { Database } from '../../core/db/orm.js';
import type { SessionRows } from '../../core/session-rows.js';
import { HttpError } from '../http-error.js';
import type { RedisMutex } from '../redis-mutex.js';

export interface Quota {
  maxSessions: number;
  memoryMb: number;
  cpus: number;
  idleTimeoutSeconds: number;
  maxDurationSeconds: number;
  storageMb: number;
}

export interface QuotaUsage {
  sessions: number;
  storageMb: number;
}

export class QuotaService {
  constructor(
    private readonly config: ApiConfig,
    private readonly db: Database,
    private readonly sessions: SessionRows,
    private readonly mutex: RedisMutex,
  ) {}

  defaultsFor(role: Role): Quota {
    const p = this.config.policies[role];
    const s = this.config.session;
    return {
      maxSessions: p.maxSessions,
      memoryMb: p.memoryMb ?? s.memoryMb,
      cpus: p.cpus ?? s.cpus,
      idleTimeoutSeconds: p.idleTimeoutSeconds ?? s.idleTimeoutSeconds,
      maxDurationSeconds: Math.min(p.maxDurationSeconds ?? s.maxDurationSeconds, s.maxDurationSeconds),
      storageMb: p.storageMb,
    };
  }

  async effective(userId: string): Promise<Quota> {
    const user = await this.db.em.fork().findOneOrFail(User, { id: userId });
    return { ...this.defaultsFor(user.role), ...stripUndefined(user.quota ?? {}) };
  }

  async usage(userId: string): Promise<QuotaUsage> {
    const sessions = await this.sessions.countLiveOf(userId);
    return { sessions, storageMb: 0 }; // no persistent profiles yet
  }

  /**
   * Runs `reserve` (which must write the session's row) only while the user is under their
   * session limit, and never for two requests of one user at the same time.
   */
  async reserve<T>(userId: string, reserve: (quota: Quota) => Promise<T>): Promise<T> {
    return this.mutex.withLock(`quota:${userId}`, async (lock) => {
      const [quota, usage] = await Promise.all([this.effective(userId), this.usage(userId)]);
      if (usage.sessions >= quota.maxSessions) {
        throw new HttpError(
          429,
          'quota_exceeded',
          `you already run ${usage.sessions} of at most ${quota.maxSessions} concurrent sessions (max_sessions); stop one first`,
          {},
          { limit: 'max_sessions', max: quota.maxSessions, current: usage.sessions },
        );
      }
      // Counted under the lock: it must still be ours when the reservation is written.
      await lock.assertHeld();
      return reserve(quota);
    });
  }
}

function stripUndefined(o: QuotaOverrides): Partial<Quota> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
}
