import { Router, type NextFunction, type Request, type Response } from 'express';
import { currentUser, passwordLogin, type PassportInstance } from '../auth/authentication.js';
import type { LoginService } from '../auth/login-service.js';
import type { Reauthentication } from '../auth/reauthentication.js';
import type { Totp } from '../auth/totp.js';
import { HttpError } from '../http-error.js';
import type { QuotaService } from '../quotas/quota-service.js';
import { quotaJson } from '../quotas/quota-fields.js';
import { localAccountsOff, type UserService } from '../users/user-service.js';
import type { ProxySignIn } from '../auth/proxy-sign-in.js';
import type { AuthenticatedUser } from '../request-context.js';
import { changePasswordBody, loginBody, parseInput, redeemBody, refreshBody, totpBeginBody, totpConfirmBody } from '../validation.js';

const ip = (req: { ip?: string | undefined }) => req.ip ?? '';
const loginName = (req: Request) => String((req.body as { username?: string } | undefined)?.username ?? '');

/** Public: GET /v1/auth/methods, POST /v1/login, /v1/auth/proxy, /v1/token/refresh, /v1/redeem. */
export function loginRoutes(passport: PassportInstance, login: LoginService, users: UserService, signIn: { localAccounts: boolean; proxy: ProxySignIn }): Router {
  const router = Router();
  router.get('/v1/auth/methods', (req, res) => {
    res.set('Cache-Control', 'no-store').json({ password: signIn.localAccounts, proxy: signIn.proxy.identityOf(req) !== null });
  });
  router.post('/v1/auth/proxy', async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await signIn.proxy.signIn(req, ip(req)));
  });
  router.post(
    '/v1/login',
    async (req, _res, next) => {
      if (!signIn.localAccounts) throw localAccountsOff();
      req.body = parseInput(loginBody, req.body);
      // Counted before the password is hashed, so parallel guesses cannot overtake the limit.
      await login.reserveAttempt(loginName(req), ip(req));
      next();
    },
    passwordLogin(passport, (username, userId, address) => login.attemptFailed(username, userId, address)),
    async (req, res) => {
      const body = req.body as { totp_code?: string; recovery_code?: string };
      const pair = await login.complete(currentUser(req), { totpCode: body.totp_code, recoveryCode: body.recovery_code }, ip(req));
      res.set('Cache-Control', 'no-store').json(pair);
    },
  );
  // A login that ended in an error before its password was checked (503) gets its point back.
  router.use('/v1/login', async (err: unknown, req: Request, _res: Response, next: NextFunction) => {
    await login.attemptErrored(err, loginName(req), ip(req));
    next(err);
  });
  router.post('/v1/token/refresh', async (req, res) => {
    const body = parseInput(refreshBody, req.body);
    // A local account's login ends with local accounts switched off; the proxy's goes on while it vouches.
    const mayContinue = (user: AuthenticatedUser) => (user.identity === 'proxy' ? signIn.proxy.mayContinue(req, user, ip(req)) : Promise.resolve(signIn.localAccounts));
    res.set('Cache-Control', 'no-store').json(await login.refresh(body.refresh_token, ip(req), mayContinue));
  });
  router.post('/v1/redeem', async (req, res) => {
    if (!signIn.localAccounts) throw localAccountsOff();
    const body = parseInput(redeemBody, req.body);
    res.json({ user: await users.redeem(body.code, body.password, ip(req)) });
  });
  return router;
}

/** Authenticated: the caller's own account; changes to its credentials need the current password. */
export function accountRoutes(login: LoginService, totp: Totp, quotas: QuotaService, own: { reauth: Reauthentication; accounts: UserService }): Router {
  const router = Router();
  router.get('/v1/me', async (req, res) => {
    const user = currentUser(req);
    res.json({ id: user.id, username: user.username, role: user.role, totp_enabled: await totp.isEnabled(user.id) });
  });
  router.post('/v1/logout', async (req, res) => {
    await login.logout(currentUser(req), ip(req));
    res.status(204).end();
  });
  router.get('/v1/quotas', async (req, res) => {
    const user = currentUser(req);
    const [quota, usage] = await Promise.all([quotas.effective(user.id), quotas.usage(user.id)]);
    const profiles = usage.profiles.map((p) => ({ app: p.app, used_mb: p.usedMb, size_mb: p.capMb, measured_at: new Date(p.updatedAt).toISOString() }));
    res.json({ quota: quotaJson(quota), usage: { sessions: usage.sessions, storage_mb: usage.storageMb, profiles } });
  });
  router.post('/v1/me/password', async (req, res) => {
    const user = currentUser(req);
    const body = parseInput(changePasswordBody, req.body);
    await own.reauth.confirm(user, body.current_password, ip(req));
    await own.accounts.changeOwnPassword(user, body.new_password, ip(req));
    res.status(204).end();
  });
  router.post('/v1/me/totp', async (req, res) => {
    const user = currentUser(req);
    await own.reauth.confirm(user, parseInput(totpBeginBody, req.body).password, ip(req));
    const enrolment = await totp.begin(user.id, user.username);
    if (enrolment === 'already-enabled') throw new HttpError(409, 'totp_enabled', 'TOTP is already enabled; an admin can reset it');
    res.set('Cache-Control', 'no-store').json({ otpauth_uri: enrolment.otpauthUri, qr_code: enrolment.qrCode });
  });
  router.post('/v1/me/totp/confirm', async (req, res) => {
    const user = currentUser(req);
    const body = parseInput(totpConfirmBody, req.body);
    const recoveryCodes = await totp.confirm(user.id, body.code);
    if (!recoveryCodes) throw new HttpError(400, 'invalid_totp', 'the code is wrong, or there is no pending enrolment (POST /v1/me/totp first)');
    await login.totpEnrolled(user, ip(req));
    res.set('Cache-Control', 'no-store').json({ recovery_codes: recoveryCodes });
  });
  return router;
}
