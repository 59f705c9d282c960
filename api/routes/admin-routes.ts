import { Router } from 'express';
import type { AuditLog } from '../../core/audit-log.js';
import { currentUser, requireAdmin } from '../auth/authentication.js';
import { quotaFromJson } from '../quotas/quota-fields.js';
import type { UserService } from '../users/user-service.js';
import type { AdminOverviews } from '../overview/admin-overview.js';
import type { RoleEgressOpenings } from '../quotas/role-egress.js';
import type { NodeAdmin } from '../nodes/node-admin.js';
import type { ProfileAdmin } from '../profiles/profile-admin.js';
import { appParam, auditQuery, createUserBody, nodeIdParam, parseInput, patchUserBody, roleEgressBody, roleParam, userIdParam } from '../validation.js';

const ip = (req: { ip?: string | undefined }) => req.ip ?? '';

/** Admins only: /v1/users, /v1/roles, /v1/nodes, /v1/audit and /v1/admin. */
export function adminRoutes(users: UserService, audit: AuditLog, egress: RoleEgressOpenings, overviews: AdminOverviews, nodes: NodeAdmin, profiles: ProfileAdmin): Router {
  const router = Router();
  router.use(['/v1/users', '/v1/roles', '/v1/nodes', '/v1/audit', '/v1/admin'], requireAdmin);

  router.get('/v1/admin/overview', async (_req, res) => {
    res.json(await overviews.get());
  });

  router.post('/v1/users', async (req, res) => {
    const body = parseInput(createUserBody, req.body);
    res.status(201).set('Cache-Control', 'no-store').json(await users.create(currentUser(req), body, ip(req)));
  });
  router.get('/v1/users', async (_req, res) => {
    res.json({ users: await users.list() });
  });
  router.get('/v1/users/:id', async (req, res) => {
    res.json(await users.get(parseInput(userIdParam, req.params['id'], 'user id')));
  });
  router.patch('/v1/users/:id', async (req, res) => {
    const id = parseInput(userIdParam, req.params['id'], 'user id');
    const body = parseInput(patchUserBody, req.body);
    const patch = { ...body, quota: quotaFromJson(body.quota) };
    res.set('Cache-Control', 'no-store').json(await users.update(currentUser(req), id, patch, ip(req)));
  });

  router.get('/v1/users/:id/profiles', async (req, res) => {
    res.json({ profiles: await profiles.list(parseInput(userIdParam, req.params['id'], 'user id')) });
  });
  router.delete('/v1/users/:id/profiles/:app', async (req, res) => {
    const id = parseInput(userIdParam, req.params['id'], 'user id');
    const app = parseInput(appParam, req.params['app'], 'app');
    await profiles.delete(currentUser(req), id, app, ip(req));
    res.status(204).end();
  });

  // The destinations beyond the public internet a role's new sessions may reach.
  router.get('/v1/roles/:role/egress', async (req, res) => {
    res.json(await egress.view(parseInput(roleParam, req.params['role'], 'role')));
  });
  router.put('/v1/roles/:role/egress', async (req, res) => {
    const role = parseInput(roleParam, req.params['role'], 'role');
    const { destinations } = parseInput(roleEgressBody, req.body);
    res.json(await egress.replace(currentUser(req), role, destinations, ip(req)));
  });

  router.get('/v1/nodes', async (_req, res) => {
    res.json(await nodes.list());
  });
  for (const action of ['approve', 'drain', 'revoke'] as const) {
    router.post(`/v1/nodes/:id/${action}`, async (req, res) => {
      res.json(await nodes.act(currentUser(req), parseInput(nodeIdParam, req.params['id'], 'node name'), action, ip(req)));
    });
  }

  router.get('/v1/audit', async (req, res) => {
    const q = parseInput(auditQuery, req.query, 'query');
    const page = await audit.query({ userId: q.user, action: q.action, since: q.since, until: q.until, cursor: q.cursor, limit: q.limit });
    res.json({ events: page.events, next_cursor: page.nextCursor });
  });
  return router;
}
