/**
 * How callers prove who they are: username/password once (passport-local, plus the second
 * factor in LoginService), then a short-lived bearer token on every request. A token stops
 * working at once when its account is disabled, its token version is bumped or its login family
 * is revoked; the role always comes from the account, not the token.
 */
import type { RequestHandler } from 'express';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { forbidden, unauthorized } from '../http-error.js';
import type { AuthenticatedUser } from '../request-context.js';
import type { UserDirectory } from '../users/user-directory.js';
import type { AccessTokens } from './access-tokens.js';
import type { RevokedFamilies } from './revoked-families.js';

export type PassportInstance = InstanceType<typeof Passport>;

/** Passport's failure info: the account the attempt was for, when it exists (for the audit log). */
interface PasswordFailure {
  userId: string | null;
}

export function createPassport(users: UserDirectory): PassportInstance {
  const passport = new Passport();
  passport.use(
    new LocalStrategy({ session: false }, (username, password, done) => {
      users.verifyCredentials(username, password).then(
        (check) => (check.ok ? done(null, check.user) : done(null, false, { userId: check.userId } satisfies PasswordFailure as never)),
        (err: unknown) => done(err),
      );
    }),
  );
  return passport;
}

/**
 * Checks the body's username and password; sets req.auth, or calls `onFailure` (which records
 * the failure and throws the 401).
 */
export function passwordLogin(
  passport: PassportInstance,
  onFailure: (username: string, userId: string | null, ip: string) => Promise<never>,
): RequestHandler {
  return (req, res, next) => {
    const authenticate = passport.authenticate(
      'local',
      { session: false },
      (err: unknown, user: AuthenticatedUser | false, info: PasswordFailure | undefined) => {
        if (err) return next(err);
        if (!user) return void onFailure(String((req.body as { username: string }).username), info?.userId ?? null, req.ip ?? '').catch(next);
        req.auth = user;
        next();
      },
    ) as RequestHandler;
    void authenticate(req, res, next);
  };
}

export function requireBearer(tokens: AccessTokens, users: UserDirectory, revoked: RevokedFamilies): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
    if (!match?.[1]) throw unauthorized('missing bearer token (Authorization: Bearer <access_token>)');
    const claims = await tokens.verify(match[1]);
    if (!claims) throw unauthorized('invalid or expired token');
    const user = await users.findActive(claims.userId);
    if (!user || user.tokenVersion !== claims.tokenVersion || (await revoked.isRevoked(claims.familyId))) {
      throw unauthorized('invalid or expired token');
    }
    req.auth = { ...user, familyId: claims.familyId };
    next();
  };
}

export const requireAdmin: RequestHandler = (req, _res, next) => {
  if (req.auth?.role !== 'admin') throw forbidden('admin role required');
  next();
};

export function currentUser(req: { auth?: AuthenticatedUser }): AuthenticatedUser {
  if (!req.auth) throw unauthorized();
  return req.auth;
}
