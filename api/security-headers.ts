/**
 * Response headers for everything the API answers (helmet): JSON, the CA certificate and apt
 * files get a policy that allows nothing to load, run or frame them; its two pages get
 * `pagePolicy`. Set before the routes, so that error responses carry them too.
 */
import helmet from 'helmet';
import type { RequestHandler } from 'express';

/**
 * The pages the API serves (the dashboard at /ui/, the API docs at /docs/) replace the default
 * policy with this one: their own scripts and styles, data: images (a QR code), requests to this
 * origin; nothing inline, nothing from elsewhere, never framed.
 */
const PAGE_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const pagePolicy: RequestHandler = (_req, res, next) => {
  res.set('Content-Security-Policy', PAGE_POLICY);
  next();
};

export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
    // One year, this host only: a session's native TLS name is not for browsers.
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: false },
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
  });
}
