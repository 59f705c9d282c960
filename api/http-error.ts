/**
 * The API's one error type and its middleware. Routes and services throw `HttpError`; anything
 * else that escapes is logged and answered as a generic 500 without internals. Every error
 * response has the shape `{ error: { code, message } }`.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../core/logger.js';
import { unavailableDependency, type Dependency } from './dependency-errors.js';

/** When a 503 asks the client to come back (the ingress's answers for a stopped API too). */
export const RETRY_AFTER_SECONDS = 5;
const DEPENDENCY_NAMES: Record<Dependency, string> = { redis: 'Redis', database: 'the database', temporal: 'Temporal' };

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
    /** Extra fields of the error object, e.g. the id of the session that failed. */
    readonly details: Record<string, string | number> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, code = 'invalid_request') => new HttpError(400, code, message);
export const unauthorized = (message = 'authentication required') =>
  new HttpError(401, 'unauthorized', message, { 'WWW-Authenticate': 'Bearer' });
export const forbidden = (message = 'not allowed') => new HttpError(403, 'forbidden', message);
export const notFound = (message = 'not found') => new HttpError(404, 'not_found', message);

export const notFoundRoute: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};

/** Errors body-parser raises carry `type` and `status`; they are the client's fault. */
function fromBodyParser(err: unknown): HttpError | null {
  if (typeof err !== 'object' || err === null || !('type' in err)) return null;
  const type = String(err.type);
  if (type === 'entity.too.large') return new HttpError(413, 'payload_too_large', 'request body is too large');
  if (type === 'entity.parse.failed') return new HttpError(400, 'invalid_json', 'request body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported')
    return new HttpError(415, 'unsupported_encoding', 'unsupported body encoding');
  return null;
}

/** Where the error middleware counts what it answers (the API's Prometheus metrics). */
export interface ErrorMetrics {
  dependencyUnavailable: { inc(labels: { dependency: Dependency }): void };
  internalErrors: { inc(): void };
}

export function errorHandler(logger: Logger, metrics: ErrorMetrics): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const known = err instanceof HttpError ? err : fromBodyParser(err);
    if (known) {
      // A 503 (overload, a session that could not start) is the platform working as meant.
      if (known.status === 503) logger.warn(known.message, { requestId: req.id, code: known.code });
      else if (known.status >= 500) logger.error(known.message, { requestId: req.id, code: known.code });
      res.status(known.status).set(known.headers).json({ error: { ...known.details, code: known.code, message: known.message } });
      return;
    }
    const dependency = unavailableDependency(err);
    if (dependency) {
      // The request was fine: the same one succeeds once the dependency is back.
      logger.warn('dependency unavailable', { requestId: req.id, dependency, error: err instanceof Error ? err.message : String(err) });
      metrics.dependencyUnavailable.inc({ dependency });
      res
        .status(503)
        .set('Retry-After', String(RETRY_AFTER_SECONDS))
        .json({ error: { code: 'dependency_unavailable', message: `${DEPENDENCY_NAMES[dependency]} is unavailable; try again in a few seconds`, request_id: req.id } });
      return;
    }
    logger.error('unhandled error', { requestId: req.id, error: err instanceof Error ? err.stack : String(err) });
    metrics.internalErrors.inc();
    res.status(500).json({ error: { code: 'internal', message: 'internal error', request_id: req.id } });
  };
}
