/**
 * Access tokens name their login family (`fam`). Logging out or detecting refresh-token reuse
 * revokes the family at once: the family is remembered in Redis for as long as an access token
 * of it can still be valid, and every request checks it.
 */
import type { Redis } from 'ioredis';

const key = (familyId: string) => `hackstream:revoked-family:${familyId}`;

export class RevokedFamilies {
  constructor(
    private readonly redis: Redis,
    private readonly accessTokenTtlSeconds: number,
  ) {}

  async revoke(...familyIds: string[]): Promise<void> {
    if (familyIds.length === 0) return;
    const m = this.redis.multi();
    for (const f of familyIds) m.set(key(f), '1', 'EX', this.accessTokenTtlSeconds + 60);
    await m.exec();
  }

  async isRevoked(familyId: string): Promise<boolean> {
    return (await this.redis.exists(key(familyId))) === 1;
  }
}
