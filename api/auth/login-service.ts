/**
 * Logging in, refreshing and logging out: the story around the password check (which
 * passport-local does): brute-force throttling, the second factor, token issue and rotation,
 * revocation, and an audit record for each outcome.
 *
 * A login is one attempt: `reserveAttempt` counts it before the password is hashed (or refuses
 * it with 429), then exactly one of `attemptFailed` (the point stays spent), `complete` (given
 * back on success) or `attemptErrored` (given back when no password was checked) ends it.
 */
import type { AuditLog } from '../../core/audit-log.js';
import { HttpError, unauthorized } from '../http-error.js';
import type { AuthenticatedUser } from '../request-context.js';
import type { UserDirectory } from '../users/user-directory.js';
import type { AccessTokens } from './access-tokens.js';
import type { LoginThrottle, Refusal } from './login-throttle.js';
import { isHashingBusy } from './passwords.js';
import type { OneTimeCodes } from './one-time-codes.js';
import type { RefreshTokens } from './refresh-tokens.js';
import type { RevokedFamilies } from './revoked-families.js';
import type { ThrottledAudit } from './throttled-audit.js';
import type { Totp } from './totp.js';
import type { TokenPair } from '../contract/responses.js';

/** One message for unknown user and wrong password, so neither can be told from the other. */
export const BAD_CREDENTIALS = 'invalid username or password';

export type { TokenPair };

export interface LoginServiceDeps {
  users: UserDirectory;
  throttle: LoginThrottle;
  throttledAudit: ThrottledAudit;
  totp: Totp;
  codes: OneTimeCodes;
  refreshTokens: RefreshTokens;
  accessTokens: AccessTokens;
  revoked: RevokedFamilies;
  audit: AuditLog;
}

export class LoginService {
  constructor(private readonly d: LoginServiceDeps) {}

  /** Before the password is even looked at: counts the attempt, or refuses it (429) while the account or address is locked. */
  async reserveAttempt(username: string, ip: string): Promise<void> {
    const refusal = await this.d.throttle.reserve(username, ip);
    if (refusal) return this.refuse(username, ip, refusal);
    await this.d.throttledAudit.settle(this.d.throttle.keys(username, ip), username, ip);
  }

  /** A wrong password (or unknown user) on a reserved attempt: its point stays spent. */
  async attemptFailed(username: string, userId: string | null, ip: string): Promise<never> {
    await this.d.audit.record({ action: 'login.failure', actorName: username, userId, sourceIp: ip, details: { reason: 'bad_credentials' } });
    throw unauthorized(BAD_CREDENTIALS);
  }

  /** A reserved attempt that ended in an error: when its password was never checked (503), the point is given back. */
  async attemptErrored(err: unknown, username: string, ip: string): Promise<void> {
    if (isHashingBusy(err)) await this.d.throttle.refund(username, ip);
  }

  /** A reserved attempt whose password was right: the account's counter starts over. */
  async attemptSucceeded(username: string, ip: string): Promise<void> {
    await this.d.throttle.recordSuccess(username, ip);
  }

  /** After a correct password: the second factor when enrolled, then the tokens. */
  async complete(user: AuthenticatedUser, second: { totpCode?: string; recoveryCode?: string }, ip: string): Promise<TokenPair> {
    let factor: 'totp' | 'recovery_code' | null = null;
    if (await this.d.totp.isEnabled(user.id)) {
      const fail = async (reason: string, code: string, message: string, counts: boolean): Promise<never> => {
        // The attempt's reserved point counts this failure; a missing second factor is no guess.
        if (!counts) await this.d.throttle.refund(user.username, ip);
        await this.d.audit.record({ action: 'login.failure', actorId: user.id, userId: user.id, sourceIp: ip, details: { reason } });
        throw new HttpError(401, code, message);
      };
      if (second.totpCode) {
        if (!(await this.d.totp.verifyLogin(user.id, second.totpCode))) await fail('bad_totp', 'invalid_totp', 'the authenticator code is wrong or was already used', true);
        factor = 'totp';
      } else if (second.recoveryCode) {
        if (!(await this.d.codes.redeem(second.recoveryCode, ['recovery'], user.id))) await fail('bad_recovery_code', 'invalid_recovery_code', 'the recovery code is wrong or was already used', true);
        factor = 'recovery_code';
        await this.d.audit.record({ action: 'totp.recovery_code_used', actorId: user.id, userId: user.id, sourceIp: ip });
      } else {
        await fail('totp_required', 'totp_required', 'this account requires an authenticator code (totp_code) or a recovery code', false);
      }
    }
    await this.attemptSucceeded(user.username, ip);
    const refresh = await this.d.refreshTokens.start(user.id);
    const pair = await this.pair(user, refresh.familyId, refresh);
    await this.d.audit.record({ action: 'login.success', actorId: user.id, userId: user.id, sourceIp: ip, details: { second_factor: factor } });
    return pair;
  }

  /**
   * `mayContinue`: asked of the account before its login goes on (the sign-in proxy's accounts
   * go on only while the proxy still vouches for them); false ends the login.
   */
  async refresh(refreshToken: string, ip: string, mayContinue?: (user: AuthenticatedUser) => Promise<boolean>): Promise<TokenPair> {
    const r = await this.d.refreshTokens.rotate(refreshToken);
    if (!r.ok) {
      if (r.reason === 'reused') {
        await this.d.revoked.revoke(r.familyId);
        await this.d.audit.record({ action: 'token.reuse_detected', userId: r.userId, sourceIp: ip, details: { family: r.familyId } });
      }
      throw unauthorized('invalid or expired refresh token');
    }
    // A logout that ran while this refresh was spending its token revoked the family before the
    // new token existed: checked after the new token is written, so one of the two always sees the other.
    const ended = (await this.d.revoked.isRevoked(r.familyId)) || (await this.d.refreshTokens.familyRevoked(r.familyId));
    const user = ended ? null : await this.d.users.findActive(r.userId);
    if (!user) {
      await this.d.refreshTokens.revokeFamily(r.familyId);
      throw unauthorized('invalid or expired refresh token');
    }
    if (mayContinue && !(await mayContinue(user))) {
      // Whoever vouched for this login no longer does: it ends now, its access tokens too.
      await this.d.refreshTokens.revokeFamily(r.familyId);
      await this.d.revoked.revoke(r.familyId);
      throw unauthorized('this login has ended: sign in again');
    }
    return this.pair(user, r.familyId, r.next);
  }

  /**
   * A login vouched for by someone else (the sign-in proxy has authenticated the user): its
   * tokens, and its audit record with how it was vouched for.
   */
  async startVouched(user: AuthenticatedUser, ip: string, details: Record<string, unknown>): Promise<TokenPair> {
    const refresh = await this.d.refreshTokens.start(user.id);
    const pair = await this.pair(user, refresh.familyId, refresh);
    await this.d.audit.record({ action: 'login.success', actorId: user.id, userId: user.id, sourceIp: ip, details });
    return pair;
  }

  async totpEnrolled(user: AuthenticatedUser, ip: string): Promise<void> {
    await this.d.audit.record({ action: 'totp.enrolled', actorId: user.id, userId: user.id, sourceIp: ip });
  }

  /** Ends this login: its refresh tokens and (at once) its access tokens. */
  async logout(user: AuthenticatedUser, ip: string): Promise<void> {
    if (user.familyId) {
      await this.d.refreshTokens.revokeFamily(user.familyId);
      await this.d.revoked.revoke(user.familyId);
    }
    await this.d.audit.record({ action: 'logout', actorId: user.id, userId: user.id, sourceIp: ip });
  }

  private async refuse(username: string, ip: string, refusal: Refusal): Promise<never> {
    const key = this.d.throttle.keys(username, ip)[refusal.scope];
    await this.d.throttledAudit.refused({ scope: refusal.scope, retryAfterSeconds: refusal.retryAfterSeconds, key, username, ip });
    const subject = refusal.scope === 'account' ? 'this account' : 'this address';
    throw new HttpError(429, 'too_many_attempts', `too many failed logins for ${subject}; try again in ${refusal.retryAfterSeconds}s`, {
      'Retry-After': String(refusal.retryAfterSeconds),
    });
  }

  private async pair(user: AuthenticatedUser, familyId: string, refresh: { token: string; expiresIn: number }): Promise<TokenPair> {
    const access = await this.d.accessTokens.issue({ userId: user.id, role: user.role, tokenVersion: user.tokenVersion, familyId });
    return {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: access.expiresIn,
      refresh_token: refresh.token,
      refresh_expires_in: refresh.expiresIn,
    };
  }
}
