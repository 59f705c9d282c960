import { Router } from 'express';
import { PENDING_RETRY_SECONDS, type NodeAgent } from '../nodes/node-agent.js';
import { nodeEnrolmentBody, nodeHeartbeatBody, parseInput } from '../validation.js';

const ip = (req: { ip?: string | undefined }) => req.ip ?? '';

/**
 * The session nodes' own routes, /v1/node-agent: enrolment is open (it only creates a pending
 * node, which an admin must approve); the rest need a token signed with an enrolled node's key.
 */
export function nodeAgentRoutes(agent: NodeAgent): Router {
  const router = Router();

  router.post('/v1/node-agent/enroll', async (req, res) => {
    const body = parseInput(nodeEnrolmentBody, req.body);
    const { status, body: answer } = await agent.enrol(
      { csr: body.csr, labels: body.labels, capacity: { memoryMb: body.capacity.memory_mb, cpus: body.capacity.cpus, maxSessions: body.capacity.sessions } },
      ip(req),
    );
    if (status === 202) res.set('Retry-After', String(PENDING_RETRY_SECONDS));
    res.status(status).set('Cache-Control', 'no-store').json(answer);
  });

  router.post('/v1/node-agent/certificate', async (req, res) => {
    const node = await agent.authenticate(req.get('authorization'));
    const { status, body } = await agent.certificate(node, ip(req));
    if (status === 202) res.set('Retry-After', String(PENDING_RETRY_SECONDS));
    res.status(status).set('Cache-Control', 'no-store').json(body);
  });

  router.post('/v1/node-agent/heartbeat', async (req, res) => {
    const node = await agent.authenticate(req.get('authorization'));
    const body = parseInput(nodeHeartbeatBody, req.body ?? {});
    res.set('Cache-Control', 'no-store').json(await agent.heartbeat(node, { reconciled: body.reconciled }));
  });

  return router;
}
