/**
 * Response headers for everything the API answers (helmet): the API serves JSON, the CA
 * certificate and apt files, never a page, so the policy allows nothing to load, run or frame
 * it. Set before the routes, so that error responses carry them too.
 */
import helmet from 'helmet';
import type { RequestHandler } from 'express';

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
