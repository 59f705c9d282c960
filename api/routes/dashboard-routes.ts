import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import { pagePolicy } from '../security-headers.js';
import { HttpError } from '../http-error.js';

/**
 * /ui/: the web dashboard (dashboard/, built by `npm run build` into dist/dashboard), from the
 * API's origin so that it calls /v1 same-origin. Its hashed assets are cached for good; the page
 * itself never is, so a new build takes effect at the next load. Every route of the app (its
 * paths live after `#`) gets the page. The policy lets the page run its own script and styles,
 * show data: images (the TOTP QR code) and call this origin, nothing else.
 */
export function dashboardRoutes(dir: string): Router {
  const router = Router();
  const page = path.join(dir, 'index.html');
  const assets = express.static(path.join(dir, 'assets'), { index: false, dotfiles: 'deny', redirect: false, fallthrough: true, immutable: true, maxAge: '365d' });
  router.use('/ui/assets', pagePolicy, assets);
  router.get(['/ui', '/ui/'], pagePolicy, (req, res, next) => {
    if (!req.originalUrl.split('?')[0]!.endsWith('/')) {
      res.redirect(301, '/ui/');
      return;
    }
    if (!existsSync(page)) {
      next(new HttpError(404, 'dashboard_not_built', 'the dashboard is not built on this server (npm run build)'));
      return;
    }
    res.set('Cache-Control', 'no-cache').sendFile(page);
  });
  return router;
}
