import { Router } from 'express';
import type { ApiMetrics } from '../metrics.js';

/**
 * Prometheus exposition. Unauthenticated like /health, and for the same reason reachable only on
 * the API's own address: the ingress routes /v1, /health, /ready and /ca.pem, not this.
 */
export function metricsRoutes(metrics: ApiMetrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}
