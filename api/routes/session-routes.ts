import { Router } from 'express';
import { currentUser } from '../auth/authentication.js';
import type { SessionService } from '../sessions/session-service.js';
import { createSessionBody, listSessionsQuery, parseInput, sessionIdParam } from '../validation.js';

/** /v1/sessions (authenticated). */
export function sessionRoutes(sessions: SessionService): Router {
  const router = Router();

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
