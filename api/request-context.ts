/** Per-request id (echoed as X-Request-Id) and one structured log line per request. */
import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import type { RequestHandler } from 'express';
import type { Logger } from '../core/logger.js';
import type { IdentitySource, Role } from '../core/roles.js';
import { CONNECT_AUTH_PATH } from '../core/ingress-names.js';
import { HttpError } from './http-error.js';

export interface AuthenticatedUser {
  id: string;
  username: string;
  role: Role;
  /** Who vouches for the account: its password here, or the sign-in proxy. */
  identity: IdentitySource;
  tokenVersion: number;
  /** The login family of the access token the request came with. */
  familyId?: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    auth?: AuthenticatedUser;
  }
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.id = incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.set('X-Request-Id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // The path only: query strings may carry tokens. Traefik's ForwardAuth calls (one per
      // asset of a streamed page) only at debug level: connect-routes logs what matters.
      // In the request's trace context, so that the line carries its trace id.
      context.with(req.traceContext ?? context.active(), () => logger.log(req.path === CONNECT_AUTH_PATH ? 'debug' : 'info', 'request', {
        requestId: req.id,
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Number((process.hrtime.bigint() - started) / 1_000_000n),
        userId: req.auth?.id,
        ip: req.ip,
      }));
    });
    next();
  };
}

/** JSON only: a request body in any other format is refused rather than silently ignored. */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (hasBody && !req.is('application/json')) {
    next(new HttpError(415, 'unsupported_media_type', 'request bodies must be JSON (content-type: application/json)'));
    return;
  }
  next();
};
