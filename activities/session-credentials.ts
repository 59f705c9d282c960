/** Revokes a session's browser-path credentials (connect tokens, resume cookies) in Redis. */
import type { Redis } from 'ioredis';
import { sessionCredentialsKey } from '../core/credential-keys.js';

export interface SessionCredentials {
  /** Deletes every credential issued for the session; returns how many were still live. */
  revokeAll(sessionId: string): Promise<number>;
}

export class RedisSessionCredentials implements SessionCredentials {
  constructor(private readonly redis: Redis) {}

  async revokeAll(sessionId: string): Promise<number> {
    const index = sessionCredentialsKey(sessionId);
    const keys = await this.redis.smembers(index);
    const [deleted] = await Promise.all([keys.length ? this.redis.del(...keys) : Promise.resolve(0), this.redis.del(index)]);
    return deleted;
  }
}
