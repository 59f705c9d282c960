/** Accounts: lookup, credential checks, the first admin, and accounts the sign-in proxy vouches for. */
import { randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Database } from '../../core/db/orm.js';
import { User } from '../../core/db/entities.js';
import type { Role } from '../../core/roles.js';
import { burnVerification, hashPassword, verifyPassword } from '../auth/passwords.js';
import type { AuthenticatedUser } from '../request-context.js';

const toAuthenticated = (u: User): AuthenticatedUser => ({ id: u.id, username: u.username, role: u.role, identity: u.identity, tokenVersion: u.tokenVersion });

export type CredentialCheck =
  | { ok: true; user: AuthenticatedUser }
  /** `userId` when the account exists (for the audit log), never shown to the caller. */
  | { ok: false; userId: string | null };

/** A sign-in through the operator's proxy: its account, made or brought up to date. */
export type ProxySignIn =
  | { ok: true; user: AuthenticatedUser; created: boolean; previousRole: Role | null }
  | { ok: false; reason: 'local_account' | 'disabled'; userId: string };

export class UserDirectory {
  constructor(private readonly db: Database) {}

  /**
   * Checks a username and password with the same effort whether or not the account exists, so
   * that "unknown user" and "wrong password" cannot be told apart. Disabled and invited (no
   * password yet) accounts never pass.
   */
  async verifyCredentials(username: string, password: string): Promise<CredentialCheck> {
    const user = await this.db.em.fork().findOne(User, { username });
    if (!user?.passwordHash) {
      await burnVerification(password);
      return { ok: false, userId: user?.id ?? null };
    }
    const ok = await verifyPassword(user.passwordHash, password);
    return ok && !user.disabled ? { ok: true, user: toAuthenticated(user) } : { ok: false, userId: user.id };
  }

  /** An active account by id (tokens are checked against this on every request). */
  async findActive(id: string): Promise<AuthenticatedUser | null> {
    const user = await this.db.em.fork().findOne(User, { id });
    return user && !user.disabled ? toAuthenticated(user) : null;
  }

  async create(username: string, password: string | null, role: Role): Promise<AuthenticatedUser> {
    const em = this.db.em.fork();
    const user = em.create(User, { username, passwordHash: password === null ? null : await hashPassword(password), role });
    await em.flush();
    return toAuthenticated(user);
  }

  /**
   * The account of a user the sign-in proxy vouches for, made at the first sign-in; its role
   * follows the proxy's groups at every sign-in. A local account of that name is never taken
   * over (its password, not the proxy, vouches for it).
   */
  async signInFromProxy(username: string, role: Role): Promise<ProxySignIn> {
    for (let attempt = 0; ; attempt++) {
      const em = this.db.em.fork();
      const user = await em.findOne(User, { username });
      if (!user) {
        try {
          const created = em.create(User, { username, passwordHash: null, role, identity: 'proxy' });
          await em.flush();
          return { ok: true, user: toAuthenticated(created), created: true, previousRole: null };
        } catch (err) {
          // Two first sign-ins at once: the other one made it; read it.
          if (err instanceof UniqueConstraintViolationException && attempt === 0) continue;
          throw err;
        }
      }
      if (user.identity !== 'proxy') return { ok: false, reason: 'local_account', userId: user.id };
      if (user.disabled) return { ok: false, reason: 'disabled', userId: user.id };
      const previousRole = user.role === role ? null : user.role;
      if (previousRole) {
        user.role = role;
        await em.flush();
      }
      return { ok: true, user: toAuthenticated(user), created: false, previousRole };
    }
  }

  async hasAccounts(): Promise<boolean> {
    return (await this.db.em.fork().count(User, {})) > 0;
  }

  /**
   * Creates the first admin when there are no accounts at all. Returns whether it did; later
   * starts leave existing accounts (and changed passwords) alone.
   */
  async ensureInitialAdmin(username: string, password: string): Promise<boolean> {
    const em = this.db.em.fork();
    if (await this.hasAccounts()) return false;
    try {
      await em.insert(User, { id: randomUUID(), username, passwordHash: await hashPassword(password), role: 'admin', disabled: false, tokenVersion: 0, createdAt: new Date(), updatedAt: new Date() });
      return true;
    } catch (err) {
      // Another process created it first.
      if (err instanceof UniqueConstraintViolationException) return false;
      throw err;
    }
  }
}
