import { Router } from 'express';
import { checkReadiness, type ReadinessDeps } from '../readiness.js';

export function healthRoutes(deps: ReadinessDeps): Router {
  const router = Router();
  /** Liveness: the process answers. */
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  /** Readiness: database, Redis, Temporal and (through the workers) Docker all answer. */
  router.get('/ready', async (_req, res) => {
    const { ready, checks } = await checkReadiness(deps);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  return router;
}
