/**
 * The browser path's credentials in Redis: one-time connect tokens (≥ 128 random bits, stored
 * only as a hash, TTL ≤ 60 s, consumed atomically with GETDEL so that of two concurrent uses
 * exactly one succeeds) and the resume cookies a successful use hands out.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { connectTokenKey, hashSecret, resumeKey, sessionCredentialsKey } from '../../core/credential-keys.js';

export interface IssuedSecret {
  value: string;
  expiresAt: Date;
}

interface CredentialRecord {
  userId: string;
}

export class ConnectTokens {
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
    return raw ? (JSON.parse(raw) as CredentialRecord) : null;
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
    const index = sessionCredentialsKey(sessionId);
    await this.redis
      .multi()
      .set(key, JSON.stringify({ userId } satisfies CredentialRecord), 'EX', ttlSeconds)
      .sadd(index, key)
      .expire(index, this.indexTtlSeconds())
      .exec();
    return { value, expiresAt: new Date(Date.now() + ttlSeconds * 1000) };
  }
}
