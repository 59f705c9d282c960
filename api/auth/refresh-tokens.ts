/**
 * Refresh tokens: opaque, 256 random bits, stored as SHA-256 hashes only. A login starts a
 * family; each refresh spends the presented token (a conditional update: of two concurrent
 * refreshes exactly one wins) and issues the next one. Presenting a spent or revoked token means
 * it was stolen or replayed: the whole family is revoked.
 *
 * One exception, for answers lost on the way (a page reloaded while its refresh was in flight, a
 * dropped connection): the token spent last may be presented again within `retrySeconds` while
 * the token its refresh issued has not been used. That one is then spent in its place and a new
 * one issued, so the family keeps a single live token: if the retry was a thief's, the client
 * that got the lost answer never had it; if the thief's retry came before the client's own, the
 * client's next refresh presents a spent token and the whole family, the thief's included, is
 * revoked.
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
    private readonly retrySeconds = 0,
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
      if (!row.revokedAt && !row.replacedAt && Date.now() - row.usedAt.getTime() <= this.retrySeconds * 1000 && (await this.spendSuccessor(em, row.familyId, row.usedAt))) {
        return { ok: true, userId: row.userId, familyId: row.familyId, next: await this.issue(row.userId, row.familyId) };
      }
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

  /** Spends the token issued when the family's token was spent at `spentAt`, if nobody used it yet. */
  private async spendSuccessor(em: EntityManager, familyId: string, spentAt: Date): Promise<boolean> {
    const successor = await em.findOne(RefreshToken, { familyId, createdAt: { $gte: spentAt } }, { orderBy: { createdAt: 'asc' } });
    if (!successor || successor.usedAt || successor.revokedAt) return false;
    const now = new Date();
    return (await em.nativeUpdate(RefreshToken, { id: successor.id, usedAt: null, revokedAt: null }, { usedAt: now, replacedAt: now })) === 1;
  }

  /** The family of a token (for logout), or null when the token is unknown. */
  async familyOf(token: string): Promise<{ familyId: string; userId: string } | null> {
    const row = await this.db.em.fork().findOne(RefreshToken, { tokenHash: hashSecret(token) });
    return row ? { familyId: row.familyId, userId: row.userId } : null;
  }

  /** Whether the family has ended (a logout, reuse or an account change revoked its tokens). */
  async familyRevoked(familyId: string): Promise<boolean> {
    return (await this.db.em.fork().count(RefreshToken, { familyId, revokedAt: { $ne: null } })) > 0;
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
