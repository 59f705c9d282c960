/**
 * The browser path's credentials in Redis, the one client of their key space: one-time connect
 * tokens (≥ 128 random bits, TTL ≤ 60 s, consumed atomically with GETDEL so that of two
 * concurrent uses exactly one succeeds) and the resume cookies a successful use hands out. The
 * API issues and checks them, and revokes a user's when their account changes; the worker
 * revokes a session's when it is torn down.
 *
 * Only hashes of the secrets are keys: a Redis dump reveals no usable token or cookie.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { hashSecret } from './secret-digest.js';

const PREFIX = 'hackstream';

/** One-time connect token → `{ userId }`, TTL ≤ 60 s, consumed with GETDEL. */
const connectTokenKey = (sessionId: string, tokenHash: string): string => `${PREFIX}:connect:${sessionId}:${tokenHash}`;

/** Resume cookie → `{ userId }`, sliding TTL, valid only for its session. */
const resumeKey = (sessionId: string, cookieHash: string): string => `${PREFIX}:resume:${sessionId}:${cookieHash}`;

/** Set of every credential key issued for a session, so teardown can delete them all. */
const sessionCredentialsKey = (sessionId: string): string => `${PREFIX}:credentials:${sessionId}`;

/** Set of every credential key issued to a user, so an account change can delete them all. */
const userCredentialsKey = (userId: string): string => `${PREFIX}:user-credentials:${userId}`;

/** What teardown needs of this store (the worker revokes; it never issues). */
export interface CredentialRevocation {
  /** Deletes every credential issued for the session; returns how many were still live. */
  revokeAll(sessionId: string): Promise<number>;
  /** The sessions that have credentials (an index) in Redis. */
  sessionsWithCredentials(): Promise<string[]>;
}

/**
 * The keys teardown touches, as Redis key patterns: it reads a session's index and deletes it and
 * the credentials it lists (the worker's Redis user may reach only these here: core/redis-acl.ts).
 */
export const REVOCATION_KEYS = { indexes: `${PREFIX}:credentials:*`, listed: [`${PREFIX}:connect:*`, `${PREFIX}:resume:*`] } as const;

/** The worker's side of the key space. */
export const credentialRevocation = (redis: Redis): CredentialRevocation => ({
  revokeAll: (sessionId) => revokeSessionCredentials(redis, sessionId),
  sessionsWithCredentials: () => sessionsWithCredentials(redis),
});

async function sessionsWithCredentials(redis: Redis): Promise<string[]> {
  const prefix = sessionCredentialsKey('');
  const ids = new Set<string>();
  // SCAN, never KEYS: it does not hold Redis up however many keys there are.
  for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
    for (const key of keys) ids.add(key.slice(prefix.length));
  }
  return [...ids];
}

/** Deletes the credentials an index set lists, and the set; returns how many were still live. */
async function deleteIndexed(redis: Redis, index: string): Promise<number> {
  const keys = await redis.smembers(index);
  const [deleted] = await Promise.all([keys.length ? redis.del(...keys) : Promise.resolve(0), redis.del(index)]);
  return deleted;
}

const revokeSessionCredentials = (redis: Redis, sessionId: string): Promise<number> => deleteIndexed(redis, sessionCredentialsKey(sessionId));

export interface IssuedSecret {
  value: string;
  expiresAt: Date;
}

interface CredentialRecord {
  userId: string;
}

export class ConnectCredentials implements CredentialRevocation {
  constructor(
    private readonly redis: Redis,
    private readonly ttl: { tokenSeconds: number; resumeSeconds: number },
  ) {}

  issueToken(sessionId: string, userId: string): Promise<IssuedSecret> {
    return this.store(connectTokenKey, sessionId, userId, this.ttl.tokenSeconds);
  }

  /** The token's owner if it was valid for this session; the token is gone afterwards either way. */
  async consumeToken(sessionId: string, token: string): Promise<CredentialRecord | null> {
    const raw = await this.redis.getdel(connectTokenKey(sessionId, hashSecret(token)));
    return raw ? (JSON.parse(raw) as CredentialRecord) : null;
  }

  issueResume(sessionId: string, userId: string): Promise<IssuedSecret> {
    return this.store(resumeKey, sessionId, userId, this.ttl.resumeSeconds);
  }

  /** Checks a resume cookie for this session and extends its life (a sliding window). */
  async checkResume(sessionId: string, cookie: string): Promise<CredentialRecord | null> {
    const key = resumeKey(sessionId, hashSecret(cookie));
    const [[, raw]] = (await this.redis
      .multi()
      .get(key)
      .expire(key, this.ttl.resumeSeconds, 'XX')
      .expire(sessionCredentialsKey(sessionId), this.indexTtlSeconds(), 'XX')
      .exec()) as [[Error | null, string | null]];
    if (!raw) return null;
    const record = JSON.parse(raw) as CredentialRecord;
    await this.redis.expire(userCredentialsKey(record.userId), this.indexTtlSeconds(), 'XX');
    return record;
  }

  /**
   * Deletes every credential issued to the user, in every session (a password reset or change,
   * a role change, a disabled account); returns how many were still live.
   */
  revokeAllOfUser(userId: string): Promise<number> {
    return deleteIndexed(this.redis, userCredentialsKey(userId));
  }

  revokeAll(sessionId: string): Promise<number> {
    return revokeSessionCredentials(this.redis, sessionId);
  }

  sessionsWithCredentials(): Promise<string[]> {
    return sessionsWithCredentials(this.redis);
  }

  /** The index outlives every credential it lists; resume cookies slide, and extend it too. */
  private indexTtlSeconds(): number {
    return Math.max(this.ttl.resumeSeconds, this.ttl.tokenSeconds) * 2;
  }

  private async store(
    keyOf: (sessionId: string, hash: string) => string,
    sessionId: string,
    userId: string,
    ttlSeconds: number,
  ): Promise<IssuedSecret> {
    const value = randomBytes(32).toString('base64url');
    const key = keyOf(sessionId, hashSecret(value));
    const [bySession, byUser] = [sessionCredentialsKey(sessionId), userCredentialsKey(userId)];
    await this.redis
      .multi()
      .set(key, JSON.stringify({ userId } satisfies CredentialRecord), 'EX', ttlSeconds)
      .sadd(bySession, key)
      .expire(bySession, this.indexTtlSeconds())
      .sadd(byUser, key)
      .expire(byUser, this.indexTtlSeconds())
      .exec();
    return { value, expiresAt: new Date(Date.now() + ttlSeconds * 1000) };
  }
}
