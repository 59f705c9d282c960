import { Router } from 'express';
import type { AccessTokens } from '../auth/access-tokens.js';
import { currentUser, passwordLogin, type PassportInstance } from '../auth/authentication.js';
import { loginBody, parseInput } from '../validation.js';

/** POST /v1/login (public). */
export function loginRoutes(passport: PassportInstance, tokens: AccessTokens): Router {
  const router = Router();
  router.post(
    '/v1/login',
    (req, _res, next) => {
      req.body = parseInput(loginBody, req.body);
      next();
    },
    passwordLogin(passport),
    async (req, res) => {
      const user = currentUser(req);
      const issued = await tokens.issue({ userId: user.id, role: user.role });
      res.set('Cache-Control', 'no-store').json({ access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn });
    },
  );
  return router;
}

/** GET /v1/me (authenticated). */
export function meRoutes(): Router {
  const router = Router();
  router.get('/v1/me', (req, res) => {
    const user = currentUser(req);
    res.json({ id: user.id, username: user.username, role: user.role });
  });
  return router;
}
