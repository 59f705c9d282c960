/**
 * Refresh tokens: opaque, 256 random bits, stored as SHA-256 hashes only. A login starts a
 * family; each refresh spends the presented token (a conditional update: of two concurrent
 * refreshes exactly one wins) and issues the next one. Presenting a spent or revoked token means
 * it was stolen or replayed: the whole family is revoked.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { hashSecret } from '../../core/secret-digest.js';
import { RefreshToken } from '../../core/db/entities.js';
import type { Database } from '../../core/db/orm.js';

export interface IssuedRefreshToken {
  token: string;
  familyId: string;
  expiresIn: number;
}

export type RotationResult =
  | { ok: true; userId: string; familyId: string; next: IssuedRefreshToken }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' }
  | { ok: false; reason: 'reused'; userId: string; familyId: string };

export class RefreshTokens {
  constructor(
    private readonly db: Database,
    private readonly ttlSeconds: number,
  ) {}

  /** Starts a new family (a login). */
  start(userId: string): Promise<IssuedRefreshToken> {
    return this.issue(userId, randomUUID());
  }

  async rotate(token: string): Promise<RotationResult> {
    const em = this.db.em.fork();
    const row = await em.findOne(RefreshToken, { tokenHash: hashSecret(token) });
    if (!row) return { ok: false, reason: 'unknown' };
    if (row.usedAt) {
      await this.revokeFamily(row.familyId);
      return { ok: false, reason: 'reused', userId: row.userId, familyId: row.familyId };
    }
    // Revoked without having been used: its family already ended (logout, reuse, disable).
    if (row.revokedAt) return { ok: false, reason: 'revoked' };
    if (row.expiresAt.getTime() < Date.now()) return { ok: false, reason: 'expired' };
    const spent = await em.nativeUpdate(RefreshToken, { id: row.id, usedAt: null, revokedAt: null }, { usedAt: new Date() });
    if (spent !== 1) {
      // Lost a race with another use of the same token: that is reuse too.
      await this.revokeFamily(row.familyId);
      return { ok: false, reason: 'reused', userId: row.userId, familyId: row.familyId };
    }
    return { ok: true, userId: row.userId, familyId: row.familyId, next: await this.issue(row.userId, row.familyId) };
  }

  /** The family of a token (for logout), or null when the token is unknown. */
  async familyOf(token: string): Promise<{ familyId: string; userId: string } | null> {
    const row = await this.db.em.fork().findOne(RefreshToken, { tokenHash: hashSecret(token) });
    return row ? { familyId: row.familyId, userId: row.userId } : null;
  }

  async revokeFamily(familyId: string): Promise<void> {
    await this.db.em.fork().nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: new Date() });
  }

  /** Revokes every refresh token of the user (in `em`'s transaction if given); returns their families. */
  async revokeAllOf(userId: string, em: EntityManager = this.db.em.fork()): Promise<string[]> {
    const live = await em.find(RefreshToken, { userId, revokedAt: null, usedAt: null }, { fields: ['familyId'] });
    await em.nativeUpdate(RefreshToken, { userId, revokedAt: null }, { revokedAt: new Date() });
    return [...new Set(live.map((r) => r.familyId))];
  }

  private async issue(userId: string, familyId: string): Promise<IssuedRefreshToken> {
    const token = randomBytes(32).toString('base64url');
    const em = this.db.em.fork();
    em.create(RefreshToken, { userId, familyId, tokenHash: hashSecret(token), expiresAt: new Date(Date.now() + this.ttlSeconds * 1000) });
    await em.flush();
    return { token, familyId, expiresIn: this.ttlSeconds };
  }
}
