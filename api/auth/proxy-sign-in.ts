/**
 * Signing in as the user the operator's sign-in proxy vouches for (proxy-identity.ts reads who
 * that is): the account is made at the first sign-in and its role follows the proxy's groups at
 * each one; the login then goes on as a password login's does (tokens, refresh, logout), except
 * that a refresh goes on only while the proxy still vouches for the same user with a role.
 */
import type { Request } from 'express';
import type { AuditLog } from '../../core/audit-log.js';
import { HttpError } from '../http-error.js';
import type { AuthenticatedUser } from '../request-context.js';
import type { UserDirectory } from '../users/user-directory.js';
import type { LoginService, TokenPair } from './login-service.js';
import type { ProxiedIdentity, ProxyIdentity } from './proxy-identity.js';

export class ProxySignIn {
  constructor(
    private readonly proxy: ProxyIdentity | null,
    private readonly users: UserDirectory,
    private readonly login: LoginService,
    private readonly audit: AuditLog,
  ) {}

  /** Who the proxy vouches for on this request (null: no proxy sign-in here, or not through it). */
  identityOf(req: Request): ProxiedIdentity | null {
    return this.proxy?.read(req) ?? null;
  }

  async signIn(req: Request, ip: string): Promise<TokenPair> {
    if (!this.proxy) throw new HttpError(401, 'proxy_sign_in_unavailable', 'sign-in through a proxy is not set up here (HACKSTREAM_AUTH_PROXY_SOURCES)');
    const identity = this.proxy.read(req);
    if (!identity) {
      throw new HttpError(401, 'proxy_sign_in_unavailable', 'this request did not come through the sign-in proxy with a signed-in user: open the site through it');
    }
    const vouched = { method: 'proxy', email: identity.email, groups: identity.groups };
    const outcome = await this.accountOf(identity, ip);
    if (!outcome.ok) {
      await this.audit.record({ action: 'login.failure', actorName: identity.username, userId: outcome.userId, sourceIp: ip, details: { ...vouched, reason: outcome.reason } });
      if (outcome.reason === 'no_role') throw new HttpError(403, 'no_role', `none of your groups (${identity.groups.join(', ') || 'none'}) gives a role here: ask an administrator`);
      if (outcome.reason === 'disabled') throw new HttpError(403, 'account_disabled', 'this account is disabled: ask an administrator');
      throw new HttpError(409, 'account_conflict', `${identity.username} is a local account here (signed in with its password), not one the sign-in proxy can vouch for`);
    }
    return this.login.startVouched(outcome.user, ip, vouched);
  }

  /**
   * Whether a login of one of the proxy's accounts may go on (at its refresh): only while the
   * proxy, on this very request, vouches for the same user with a role (the role is brought up to
   * date). A user the identity provider dropped, or a refresh that bypasses the proxy, ends it.
   */
  async mayContinue(req: Request, user: AuthenticatedUser, ip: string): Promise<boolean> {
    const identity = this.proxy?.read(req);
    return identity?.username === user.username && (await this.accountOf(identity, ip)).ok;
  }

  /**
   * The account of the user the proxy vouches for, with the role its groups give (made at the
   * first sign-in, its role brought up to date; both audited); or why there is none.
   */
  private async accountOf(identity: ProxiedIdentity, ip: string): Promise<{ ok: true; user: AuthenticatedUser } | { ok: false; reason: 'no_role' | 'local_account' | 'disabled'; userId: string | null }> {
    const role = this.proxy!.roleFor(identity.groups);
    if (!role) return { ok: false, reason: 'no_role', userId: null };
    const outcome = await this.users.signInFromProxy(identity.username, role);
    if (!outcome.ok) return outcome;
    if (outcome.created) {
      await this.audit.record({ action: 'user.created', ...this.own(outcome.user, ip), details: { role, identity: 'proxy', email: identity.email } });
    }
    if (outcome.previousRole) {
      await this.audit.record({ action: 'user.updated', ...this.own(outcome.user, ip), details: { role: { from: outcome.previousRole, to: role }, by: 'proxy_groups' } });
    }
    return outcome;
  }

  private own(user: AuthenticatedUser, ip: string) {
    return { actorId: user.id, userId: user.id, targetType: 'user' as const, targetId: user.id, sourceIp: ip };
  }
}
