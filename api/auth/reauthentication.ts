/**
 * Re-authentication for account changes that a stolen access token must not be able to make
 * (enrolling a second factor, changing the password): the caller's current password again. A
 * wrong one counts as a failed login (same throttle, same audit record), so these endpoints
 * are no way around the login's brute-force protection.
 */
import { HttpError } from '../http-error.js';
import type { AuthenticatedUser } from '../request-context.js';
import type { UserDirectory } from '../users/user-directory.js';
import type { LoginService } from './login-service.js';

export class Reauthentication {
  constructor(
    private readonly users: UserDirectory,
    private readonly login: LoginService,
  ) {}

  /** Resolves when `password` is the caller's current one; otherwise 401 (or 429 when throttled). */
  async confirm(user: AuthenticatedUser, password: string, ip: string): Promise<void> {
    // One attempt, counted before the hash as a login is, so parallel guesses cannot pass the limit.
    await this.login.reserveAttempt(user.username, ip);
    let check: Awaited<ReturnType<UserDirectory['verifyCredentials']>>;
    try {
      check = await this.users.verifyCredentials(user.username, password);
    } catch (err) {
      await this.login.attemptErrored(err, user.username, ip);
      throw err;
    }
    if (check.ok && check.user.id === user.id) return this.login.attemptSucceeded(user.username, ip);
    try {
      await this.login.attemptFailed(user.username, user.id, ip);
    } catch (err) {
      // Not the login's message: the caller is authenticated, only this password is wrong.
      if (err instanceof HttpError && err.status === 401) throw new HttpError(401, 'invalid_password', 'the current password is wrong');
      throw err;
    }
  }
}
