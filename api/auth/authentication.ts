/**
 * How callers prove who they are: username/password once (passport-local), then a short-lived
 * bearer token on every request. A token of a deleted or disabled account stops working at once.
 */
import type { RequestHandler } from 'express';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { forbidden, unauthorized } from '../http-error.js';
import type { AuthenticatedUser } from '../request-context.js';
import type { UserDirectory } from '../users/user-directory.js';
import type { AccessTokens } from './access-tokens.js';

export type PassportInstance = InstanceType<typeof Passport>;

/** One message for unknown user and wrong password, so neither can be told from the other. */
export const BAD_CREDENTIALS = 'invalid username or password';

export function createPassport(users: UserDirectory): PassportInstance {
  const passport = new Passport();
  passport.use(
    new LocalStrategy({ session: false }, (username, password, done) => {
      users.verifyCredentials(username, password).then(
        (user) => done(null, user ?? false),
        (err: unknown) => done(err),
      );
    }),
  );
  return passport;
}

/** Authenticates the request body's credentials; sets req.auth or fails with 401. */
export function passwordLogin(passport: PassportInstance): RequestHandler {
  return (req, res, next) => {
    const authenticate = passport.authenticate('local', { session: false }, (err: unknown, user: AuthenticatedUser | false) => {
      if (err) return next(err);
      if (!user) return next(unauthorized(BAD_CREDENTIALS));
      req.auth = user;
      next();
    }) as RequestHandler;
    void authenticate(req, res, next);
  };
}

export function requireBearer(tokens: AccessTokens, users: UserDirectory): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
    if (!match?.[1]) throw unauthorized('missing bearer token (Authorization: Bearer <access_token>)');
    const claims = await tokens.verify(match[1]);
    if (!claims) throw unauthorized('invalid or expired token');
    const user = await users.findActive(claims.userId);
    if (!user) throw unauthorized('invalid or expired token');
    req.auth = user;
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
