import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router } from 'express';
import { pagePolicy } from '../security-headers.js';
import { buildOpenApiDocument } from '../contract/openapi-document.js';

/**
 * GET /v1/openapi.json (the API's contract) and /docs/ (Swagger UI reading it). Swagger UI comes
 * from the installed swagger-ui-dist package and loads nothing from elsewhere: its validator badge,
 * which would call an outside service, is off. The page's policy lets it run its own script and
 * styles from this origin and nothing else.
 */
const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>HackStream API</title>
<link rel="stylesheet" href="swagger-ui.css"></head>
<body><main id="swagger-ui"></main><script src="swagger-ui-bundle.js"></script><script src="docs.js"></script></body>
</html>
`;
const INIT = `window.ui = SwaggerUIBundle({ url: '/v1/openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null });\n`;

const swaggerUiDir = () => path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

export function docsRoutes(version: string): Router {
  const router = Router();
  // Built at the first request, not at start: few API processes are ever asked for it.
  let document: string | undefined;
  router.get('/v1/openapi.json', (_req, res) => {
    document ??= JSON.stringify(buildOpenApiDocument(version));
    res.type('application/json').send(document);
  });
  // One route for both spellings (Express matches `/docs` and `/docs/` alike): the page's
  // relative asset URLs need the slash.
  router.get('/docs', pagePolicy, (req, res) => {
    if (!req.originalUrl.split('?')[0]!.endsWith('/')) res.redirect(301, '/docs/');
    else res.type('html').send(PAGE);
  });
  router.get('/docs/docs.js', pagePolicy, (_req, res) => res.type('text/javascript').send(INIT));
  const assets = express.static(swaggerUiDir(), { index: false, dotfiles: 'deny', redirect: false, fallthrough: true, maxAge: '1d' });
  router.get(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js'], pagePolicy, (req, res, next) => {
    req.url = req.url.slice('/docs'.length);
    assets(req, res, next);
  });
  return router;
}
