import { Router } from 'express';
import type { Logger } from '../../core/logger.js';
import type { AuditLog } from '../../core/audit-log.js';
import { currentUser } from '../auth/authentication.js';
import { CONNECT_AUTH_PATH } from '../../core/ingress-names.js';
import { checkConnect, type ConnectCheckSettings, type OwnerCheck } from '../connect/connect-auth.js';
import type { ConnectDescriptors } from '../connect/connect-descriptor.js';
import type { RefusalAudit } from '../connect/refusal-audit.js';
import type { ConnectCredentials } from '../../core/connect-credentials.js';
import type { SessionService } from '../sessions/session-service.js';
import { parseInput, sessionIdParam } from '../validation.js';

/** POST /v1/sessions/:id/connect (authenticated): fresh one-time credentials. */
export function connectRoutes(sessions: SessionService): Router {
  const router = Router();
  router.post('/v1/sessions/:id/connect', async (req, res) => {
    const id = parseInput(sessionIdParam, req.params['id'], 'session id');
    res.set('Cache-Control', 'no-store').json(await sessions.connect(currentUser(req), id, req.ip ?? ''));
  });
  return router;
}

/**
 * Public, unauthenticated: the CA certificate clients pin (its SHA-256 fingerprint is in every
 * connect descriptor), and Traefik's ForwardAuth check, which the ingress does not route: only
 * Traefik, on the API's loopback address, calls it.
 */
export function ingressRoutes(
  tokens: ConnectCredentials,
  descriptors: ConnectDescriptors,
  settings: ConnectCheckSettings,
  audit: { log: AuditLog; refusals: RefusalAudit },
  ownerActive: OwnerCheck,
  logger: Logger,
): Router {
  const router = Router();
  router.get('/ca.pem', async (_req, res) => {
    res.type('application/x-pem-file').send(await descriptors.caCertificatePem());
  });
  router.all(CONNECT_AUTH_PATH, async (req, res) => {
    const forwarded = {
      host: req.get('x-forwarded-host'),
      uri: req.get('x-forwarded-uri'),
      origin: req.get('origin'),
      fetchSite: req.get('sec-fetch-site'),
      fetchMode: req.get('sec-fetch-mode'),
      cookieHeader: req.get('cookie'),
    };
    const result = await checkConnect(tokens, forwarded, settings, ownerActive);
    res.set('Cache-Control', 'no-store');
    if (!result.allowed) {
      logger.info('connect refused', { reason: result.reason });
      // req.ip: Traefik's view of the client (its X-Forwarded-For), never what the client sent.
      await audit.refusals.refused({ sourceIp: req.ip ?? '', status: result.status, reason: result.reason });
      res.status(result.status).json({ error: { code: result.status === 401 ? 'unauthorized' : 'forbidden', message: result.reason } });
      return;
    }
    if (result.via === 'token') {
      await audit.log.record({
        action: 'connect.token_used',
        actorId: result.userId,
        userId: result.userId,
        targetType: 'session',
        targetId: result.sessionId,
        sourceIp: req.ip ?? null,
        details: { path: 'browser' },
      });
    }
    if (result.setCookie) res.append('Set-Cookie', result.setCookie);
    res.status(204).end();
  });
  return router;
}
