/**
 * Codes that work once: invitations and password resets (redeemed to set a password) and TOTP
 * recovery codes. Only hashes are stored; redeeming is a conditional update, so of two
 * concurrent uses exactly one succeeds.
 */
import { randomBytes } from 'node:crypto';
import { hashSecret } from '../../core/secret-digest.js';
import { OneTimeCode, type OneTimeCodeKind } from '../../core/db/entities.js';
import type { Database } from '../../core/db/orm.js';

export class OneTimeCodes {
  constructor(private readonly db: Database) {}

  /** Issues `count` codes; earlier unused codes of the same kind for the user stop working. */
  async issue(userId: string, kind: OneTimeCodeKind, opts: { count?: number; ttlSeconds?: number } = {}): Promise<{ codes: string[]; expiresAt: Date | null }> {
    const em = this.db.em.fork();
    const expiresAt = opts.ttlSeconds ? new Date(Date.now() + opts.ttlSeconds * 1000) : null;
    await em.nativeUpdate(OneTimeCode, { userId, kind, usedAt: null }, { usedAt: new Date() });
    const codes = Array.from({ length: opts.count ?? 1 }, () =>
      // Recovery codes are typed by hand: shorter, grouped; the others travel in links.
      kind === 'recovery' ? (randomBytes(10).toString('hex').match(/.{5}/g) ?? []).join('-') : randomBytes(32).toString('base64url'),
    );
    for (const code of codes) em.create(OneTimeCode, { userId, kind, codeHash: hashSecret(code), expiresAt });
    await em.flush();
    return { codes, expiresAt };
  }

  /** Spends a code of one of these kinds: returns its user and kind if it was valid (unused, unexpired). */
  async redeem(code: string, kinds: OneTimeCodeKind[], userId?: string): Promise<{ userId: string; kind: OneTimeCodeKind } | null> {
    const em = this.db.em.fork();
    // Recovery codes are typed by hand: accept them in any case.
    const hashes = [...new Set([code.trim(), code.trim().toLowerCase()])].map(hashSecret);
    const row = await em.findOne(OneTimeCode, { codeHash: { $in: hashes }, kind: { $in: kinds } });
    if (!row || row.usedAt || (row.expiresAt && row.expiresAt.getTime() < Date.now())) return null;
    if (userId && row.userId !== userId) return null;
    const spent = await em.nativeUpdate(OneTimeCode, { id: row.id, usedAt: null }, { usedAt: new Date() });
    return spent === 1 ? { userId: row.userId, kind: row.kind } : null;
  }

  async unusedCount(userId: string, kind: OneTimeCodeKind): Promise<number> {
    return this.db.em.fork().count(OneTimeCode, { userId, kind, usedAt: null });
  }

  /** Voids every unused code of these kinds for the user. */
  async revoke(userId: string, kinds: OneTimeCodeKind[]): Promise<void> {
    await this.db.em.fork().nativeUpdate(OneTimeCode, { userId, kind: { $in: kinds }, usedAt: null }, { usedAt: new Date() });
  }
}
