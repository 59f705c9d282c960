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
import { MIN_PROFILE_MB } from '../../core/catalog.js';
import type { ProfileRecord, ProfileRows } from '../../core/profile-rows.js';
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
  /** What the user's persistent profiles use (each as measured when its last session ended). */
  storageMb: number;
  profiles: ProfileRecord[];
}

export class QuotaService {
  constructor(
    private readonly config: ApiConfig,
    private readonly db: Database,
    private readonly sessions: SessionRows,
    private readonly mutex: RedisMutex,
    private readonly profiles: Pick<ProfileRows, 'of'>,
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
    const [sessions, profiles] = await Promise.all([this.sessions.countLiveOf(userId), this.profiles.of(userId)]);
    return { sessions, storageMb: profiles.reduce((sum, p) => sum + p.usedMb, 0), profiles };
  }

  /**
   * The size limit of the user's persistent profile of `app` for a session starting now: their
   * storage quota less what their other apps' profiles use. Refused (403
   * storage_quota_exceeded) when their profiles already use all of it, or too little is left
   * for a file system. Called under the quota lock (`reserve`).
   */
  profileCap(quota: Quota, usage: QuotaUsage, app: string): number {
    const others = usage.profiles.filter((p) => p.app !== app).reduce((sum, p) => sum + p.usedMb, 0);
    const cap = quota.storageMb - others;
    if (usage.storageMb >= quota.storageMb || cap < MIN_PROFILE_MB) {
      throw new HttpError(
        403,
        'storage_quota_exceeded',
        `your persistent profiles use ${usage.storageMb} MB of your ${quota.storageMb} MB (storage_mb); delete data in them (or ask an admin for more) before starting a persistent session`,
        {},
        { limit: 'storage_mb', max: quota.storageMb, current: usage.storageMb },
      );
    }
    return cap;
  }

  /**
   * Runs `reserve` (which must write the session's row) only while the user is under their
   * session limit, and never for two requests of one user at the same time.
   */
  /**
   * Runs `fn` while no reservation of the user (nor another `exclusive` of theirs) can run: what
   * must not interleave with a session's start, such as the deletion of their profile.
   */
  async exclusive<T>(userId: string, fn: () => Promise<T>): Promise<T> {
    return this.mutex.withLock(quotaLock(userId), () => fn());
  }

  async reserve<T>(userId: string, reserve: (quota: Quota, usage: QuotaUsage) => Promise<T>): Promise<T> {
    return this.mutex.withLock(quotaLock(userId), async (lock) => {
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
      return reserve(quota, usage);
    });
  }
}

const quotaLock = (userId: string) => `quota:${userId}`;

function stripUndefined(o: QuotaOverrides): Partial<Quota> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
}
