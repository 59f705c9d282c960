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
    const role = this.proxy.roleFor(identity.groups);
    if (!role) {
      await this.audit.record({ action: 'login.failure', actorName: identity.username, sourceIp: ip, details: { ...vouched, reason: 'no_role' } });
      throw new HttpError(403, 'no_role', `none of your groups (${identity.groups.join(', ') || 'none'}) gives a role here: ask an administrator`);
    }
    const outcome = await this.users.signInFromProxy(identity.username, role);
    if (!outcome.ok) {
      await this.audit.record({ action: 'login.failure', actorName: identity.username, userId: outcome.userId, sourceIp: ip, details: { ...vouched, reason: outcome.reason } });
      if (outcome.reason === 'disabled') throw new HttpError(403, 'account_disabled', 'this account is disabled: ask an administrator');
      throw new HttpError(409, 'account_conflict', `${identity.username} is a local account here (signed in with its password), not one the sign-in proxy can vouch for`);
    }
    const { user } = outcome;
    if (outcome.created) {
      await this.audit.record({ action: 'user.created', ...this.own(user, ip), details: { role, identity: 'proxy', email: identity.email } });
    }
    await this.roleChanged(user, outcome.previousRole, ip);
    return this.login.startVouched(user, ip, vouched);
  }

  /**
   * Whether a login of one of the proxy's accounts may go on (at its refresh): only while the
   * proxy, on this very request, vouches for the same user with a role (the role is brought up to
   * date). A user the identity provider dropped, or a refresh that bypasses the proxy, ends it.
   */
  async mayContinue(req: Request, user: AuthenticatedUser, ip: string): Promise<boolean> {
    const identity = this.proxy?.read(req);
    if (!identity || identity.username !== user.username) return false;
    const role = this.proxy!.roleFor(identity.groups);
    if (!role) return false;
    const outcome = await this.users.signInFromProxy(user.username, role);
    if (!outcome.ok) return false;
    await this.roleChanged(outcome.user, outcome.previousRole, ip);
    return true;
  }

  private own(user: AuthenticatedUser, ip: string) {
    return { actorId: user.id, userId: user.id, targetType: 'user' as const, targetId: user.id, sourceIp: ip };
  }

  private async roleChanged(user: AuthenticatedUser, previousRole: string | null, ip: string): Promise<void> {
    if (previousRole) await this.audit.record({ action: 'user.updated', ...this.own(user, ip), details: { role: { from: previousRole, to: user.role }, by: 'proxy_groups' } });
  }
}
