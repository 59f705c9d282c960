import { Router } from 'express';
import { currentUser } from '../auth/authentication.js';
import type { ApiConfig } from '../../core/config.js';
import { appsFor } from '../sessions/app-listing.js';
import type { SessionService } from '../sessions/session-service.js';
import { createSessionBody, listSessionsQuery, parseInput, sessionIdParam } from '../validation.js';

/** /v1/sessions and /v1/apps (authenticated). */
export function sessionRoutes(sessions: SessionService, config: Pick<ApiConfig, 'apps' | 'policies' | 'pool'>): Router {
  const router = Router();

  router.get('/v1/apps', (req, res) => {
    res.json({ apps: appsFor(currentUser(req).role, config) });
  });

  router.post('/v1/sessions', async (req, res) => {
    const body = parseInput(createSessionBody, req.body);
    const view = await sessions.create(currentUser(req), body, req.ip ?? '');
    res.status(201).location(`/v1/sessions/${view.session_id}`).json(view);
  });

  router.get('/v1/sessions', async (req, res) => {
    const query = parseInput(listSessionsQuery, req.query, 'query');
    res.json(await sessions.list(currentUser(req), query));
  });

  router.get('/v1/sessions/:id', async (req, res) => {
    const id = parseInput(sessionIdParam, req.params['id'], 'session id');
    res.json(await sessions.get(currentUser(req), id));
  });

  router.post('/v1/sessions/:id/stop', async (req, res) => {
    const id = parseInput(sessionIdParam, req.params['id'], 'session id');
    const { view, done } = await sessions.stop(currentUser(req), id);
    res.status(done ? 200 : 202).json(view);
  });

  return router;
}
