/**
 * Account administration (admins only), the redeeming of one-time codes and a user's change of
 * their own password: creating or inviting
 * users, listing them, and changing role, quota, enabled state, password and second factor, each
 * change recorded in the audit log with who did what to whom.
 *
 * Disabling an account, resetting or changing its password and changing its role take effect at
 * once: its token version is bumped (every access token is refused on its next request), its
 * refresh-token families and browser credentials are revoked, and its running sessions refuse
 * native tokens issued before the change and, when disabled, are stopped. The sessions' part is
 * durable (api/users/account-access.ts): begun before the change is written, so that with
 * Temporal unreachable nothing changes, and certain to follow once it is. The last enabled admin can be
 * neither disabled nor demoted: changes that could remove an admin run under one Redis lock, so
 * two admins cannot demote each other at the same moment.
 */
import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { User, type QuotaOverrides } from '../../core/db/entities.js';
import type { Role } from '../../core/roles.js';
import type { Database } from '../../core/db/orm.js';
import type { AuditLog } from '../../core/audit-log.js';
import type { OneTimeCodes } from '../auth/one-time-codes.js';
import { hashPassword } from '../auth/passwords.js';
import type { RefreshTokens } from '../auth/refresh-tokens.js';
import type { RevokedFamilies } from '../auth/revoked-families.js';
import type { ConnectCredentials } from '../../core/connect-credentials.js';
import type { Totp } from '../auth/totp.js';
import type { AccountAccess, PendingAccountChange } from './account-access.js';
import { HttpError, notFound } from '../http-error.js';
import type { QuotaService } from '../quotas/quota-service.js';
import { quotaJson } from '../quotas/quota-fields.js';
import type { UserView } from '../contract/responses.js';

export type { UserView };
import type { RedisMutex } from '../redis-mutex.js';
import type { AuthenticatedUser } from '../request-context.js';
import type { Logger } from '../../core/logger.js';

export interface CreatedUser {
  user: UserView;
  /** With an invitation: the one-time code the user redeems to set a password (shown once). */
  invite?: { code: string; expires_at: string };
}

export interface UserPatch {
  role?: Role;
  disabled?: boolean;
  quota?: QuotaOverrides | null;
  reset_password?: boolean;
  reset_totp?: boolean;
}

export interface UserServiceDeps {
  db: Database;
  audit: AuditLog;
  codes: OneTimeCodes;
  refreshTokens: RefreshTokens;
  revoked: RevokedFamilies;
  /** The browser path's resume cookies and connect tokens, revoked with the account's logins. */
  credentials: Pick<ConnectCredentials, 'revokeAllOfUser'>;
  totp: Totp;
  quotas: QuotaService;
  accountAccess: AccountAccess;
  mutex: RedisMutex;
  logger: Logger;
  inviteTtlSeconds: number;
  /** False: local accounts are off (HACKSTREAM_LOCAL_ACCOUNTS); only the sign-in proxy's exist. */
  localAccounts: boolean;
}

/** Local accounts are switched off: the operator's sign-in proxy makes every account. */
export const localAccountsOff = (): HttpError =>
  new HttpError(403, 'local_accounts_disabled', 'local accounts are switched off here: sign in through the sign-in proxy');

const view = (u: User): UserView => ({
  id: u.id,
  username: u.username,
  role: u.role,
  identity: u.identity,
  disabled: u.disabled,
  pending_password: u.identity === 'local' && !u.passwordHash,
  totp_enabled: Boolean(u.totpEnabledAt),
  quota_overrides: u.quota ? quotaJson(u.quota) : null,
  created_at: u.createdAt.toISOString(),
});

export class UserService {
  constructor(private readonly d: UserServiceDeps) {}

  async create(actor: AuthenticatedUser, input: { username: string; role: Role; password?: string }, ip: string): Promise<CreatedUser> {
    if (!this.d.localAccounts) throw localAccountsOff();
    const em = this.d.db.em.fork();
    const user = em.create(User, {
      username: input.username,
      role: input.role,
      passwordHash: input.password ? await hashPassword(input.password) : null,
    });
    try {
      await em.flush();
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new HttpError(409, 'username_taken', `the username ${input.username} is taken`);
      throw err;
    }
    if (input.password) {
      await this.audit(actor, 'user.created', user, ip, { role: user.role });
      return { user: view(user) };
    }
    const invite = await this.d.codes.issue(user.id, 'invite', { ttlSeconds: this.d.inviteTtlSeconds });
    await this.audit(actor, 'user.invited', user, ip, { role: user.role, expires_at: invite.expiresAt?.toISOString() });
    return { user: view(user), invite: { code: invite.codes[0]!, expires_at: invite.expiresAt!.toISOString() } };
  }

  async list(): Promise<UserView[]> {
    return (await this.d.db.em.fork().find(User, {}, { orderBy: { createdAt: 'asc' } })).map(view);
  }

  async get(id: string): Promise<UserView> {
    return view(await this.find(id));
  }

  async update(actor: AuthenticatedUser, id: string, patch: UserPatch, ip: string): Promise<{ user: UserView; reset_code?: { code: string; expires_at: string } }> {
    const mayRemoveAdmin = patch.role === 'user' || patch.disabled === true;
    const apply = () => this.applyUpdate(actor, id, patch);
    // The lock covers the check and the write; the wait for the sessions follows outside it.
    const { user, before, pending } = mayRemoveAdmin ? await this.d.mutex.withLock('admins', apply) : await apply();
    const applied = pending ? await pending.settled() : null;

    // One audit record per kind of change.
    const changed: Record<string, unknown> = {};
    if (before.role !== user.role) changed['role'] = { from: before.role, to: user.role };
    if (patch.quota !== undefined) changed['quota'] = { from: before.quota, to: user.quota ?? null };
    if (Object.keys(changed).length) await this.audit(actor, 'user.updated', user, ip, changed);
    if (before.disabled !== user.disabled) {
      if (user.disabled) {
        // null: not yet applied when this answers (it follows).
        await this.audit(actor, 'user.disabled', user, ip, { sessions_stopped: applied ? applied.stopped : null });
      } else {
        await this.audit(actor, 'user.enabled', user, ip, null);
      }
    }
    let resetCode: { code: string; expires_at: string } | undefined;
    if (patch.reset_password) {
      const issued = await this.d.codes.issue(user.id, 'password_reset', { ttlSeconds: this.d.inviteTtlSeconds });
      resetCode = { code: issued.codes[0]!, expires_at: issued.expiresAt!.toISOString() };
      await this.audit(actor, 'user.password_reset', user, ip, { expires_at: resetCode.expires_at });
    }
    if (patch.reset_totp) {
      await this.d.totp.reset(user.id);
      await this.audit(actor, 'user.totp_reset', user, ip, null);
    }
    const fresh = await this.d.db.em.fork().findOneOrFail(User, { id });
    return { user: view(fresh), ...(resetCode ? { reset_code: resetCode } : {}) };
  }

  /** Checks and writes an update; what ends live access is written by `commitEndingAccess`. */
  private async applyUpdate(actor: AuthenticatedUser, id: string, patch: UserPatch) {
    const em = this.d.db.em.fork();
    const user = await em.findOne(User, { id });
    if (!user) throw notFound(`no user ${id}`);
    const before = { role: user.role, disabled: user.disabled, quota: user.quota ?? null };
    if (patch.reset_password && user.identity === 'proxy') {
      throw new HttpError(409, 'proxy_account', `${user.username} signs in through the sign-in proxy: it has no password here to reset`);
    }

    const losesAdmin = user.role === 'admin' && !user.disabled && (patch.role === 'user' || patch.disabled === true);
    if (losesAdmin && (await em.count(User, { role: 'admin', disabled: false, id: { $ne: user.id } })) === 0) {
      throw new HttpError(409, 'last_admin', 'this is the last enabled admin: it cannot be disabled or demoted');
    }

    let invalidateTokens = false;
    if (patch.role !== undefined && patch.role !== user.role) {
      user.role = patch.role;
      invalidateTokens = true;
    }
    if (patch.quota !== undefined) user.quota = patch.quota;
    if (patch.disabled !== undefined && patch.disabled !== user.disabled) {
      user.disabled = patch.disabled;
      invalidateTokens ||= patch.disabled;
    }
    if (patch.reset_password) {
      user.passwordHash = null; // the old password stops working now
      invalidateTokens = true;
    }
    let pending: PendingAccountChange | null = null;
    if (invalidateTokens) pending = await this.commitEndingAccess(actor, user, em);
    else await em.flush();
    return { user, before, pending };
  }

  /** Redeems an invitation or password-reset code: sets the password; the code works once. */
  async redeem(code: string, password: string, ip: string): Promise<UserView> {
    const redeemed = await this.d.codes.redeem(code, ['invite', 'password_reset']);
    if (!redeemed) throw new HttpError(400, 'invalid_code', 'the code is invalid, expired or already used');
    const em = this.d.db.em.fork();
    const user = await em.findOneOrFail(User, { id: redeemed.userId });
    user.passwordHash = await hashPassword(password);
    user.tokenVersion += 1;
    await em.flush();
    await this.d.audit.record({ action: 'invite.redeemed', actorId: user.id, userId: user.id, targetType: 'user', targetId: user.id, sourceIp: ip, details: { kind: redeemed.kind } });
    return view(user);
  }

  /**
   * The caller's own password change (the route has checked the current one). Like an admin's
   * reset it ends every login of the account, this one included: a thief holding a token or
   * refresh token loses it with the old password.
   */
  async changeOwnPassword(actor: AuthenticatedUser, newPassword: string, ip: string): Promise<void> {
    const em = this.d.db.em.fork();
    const user = await em.findOneOrFail(User, { id: actor.id });
    user.passwordHash = await hashPassword(newPassword);
    const pending = await this.commitEndingAccess(actor, user, em);
    await this.audit(actor, 'user.password_changed', user, ip, null);
    await pending.settled();
  }

  /**
   * Writes the changes made to `user` in `em`, a change that ends the account's live access, in
   * the one safe order:
   * 1. the sessions' part begun durably, so that with Temporal unreachable nothing is written;
   * 2. one transaction: the token version bumped from the one read (every access token is refused
   *    on its next request; of two requests that read the same version, the second is refused
   *    with nothing written), the account's refresh tokens revoked (none mints an access token
   *    of the new version) and the change itself;
   * 3. at once, the account's browser credentials and token families revoked in Redis. The
   *    workflow does the sessions' part again whatever happens here, so a failure is logged, not
   *    answered: the change is committed.
   */
  private async commitEndingAccess(actor: AuthenticatedUser, user: User, em: EntityManager): Promise<PendingAccountChange> {
    const read = user.tokenVersion;
    user.tokenVersion = read + 1;
    const pending = await this.d.accountAccess.begin({ userId: user.id, tokenVersion: user.tokenVersion, stopSessions: user.disabled, by: actor.id });
    let families: string[];
    await em.begin();
    try {
      if ((await em.nativeUpdate(User, { id: user.id, tokenVersion: read }, { tokenVersion: read + 1 })) !== 1) {
        throw new HttpError(409, 'concurrent_change', 'the account was changed by another request meanwhile: nothing was changed; reload it and try again');
      }
      families = await this.d.refreshTokens.revokeAllOf(user.id, em);
      await em.commit();
    } catch (err) {
      await em.rollback();
      throw err;
    }
    try {
      await this.d.revoked.revoke(...families);
      await this.d.credentials.revokeAllOfUser(user.id);
    } catch (err) {
      this.d.logger.warn('account change committed; its browser credentials are left to the account-access workflow', { userId: user.id, error: (err as Error).message });
    }
    return pending;
  }

  private async find(id: string): Promise<User> {
    const user = await this.d.db.em.fork().findOne(User, { id });
    if (!user) throw notFound(`no user ${id}`);
    return user;
  }

  private audit(actor: AuthenticatedUser, action: 'user.created' | 'user.invited' | 'user.updated' | 'user.disabled' | 'user.enabled' | 'user.password_reset' | 'user.password_changed' | 'user.totp_reset', user: User, ip: string, details: Record<string, unknown> | null) {
    return this.d.audit.record({ action, actorId: actor.id, userId: user.id, targetType: 'user', targetId: user.id, sourceIp: ip, details: { username: user.username, ...details } });
  }
}
