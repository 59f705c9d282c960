/**
 * Sessions placed on session nodes, against the real stack (Temporal, Docker, Redis, SQLite): a
 * worker that is node `tiny`, with room for one session, on a control task queue and a database
 * of its own. Its sessions run on its node (their container activities on the node's own task
 * queue); a node at capacity, or draining, or without the labels the request or the role asks
 * for, gets no new session (503 no_capacity, nothing made, no quota slot held); a request may
 * not change a label its role requires (403); stopping a session gives its room back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadWorkerConfig } from '../../core/config.js';
import { migrateToLatest, openDatabase, type Database } from '../../core/db/orm.js';
import { createLogger } from '../../core/logger.js';
import { NodeRegistry } from '../../core/node-registry.js';
import { createSessionWorker, type SessionWorker } from '../../worker/session-worker.js';
import { installTemporalRuntime } from '../../worker/temporal-runtime.js';
import { nodeTaskQueue, sessionWorkflowId } from '../../workflows/messages.js';
import { startApiOn, type ApiUnderTest } from '../support/api-under-test.js';
import { sessionContainers } from '../support/docker.js';
import { workflowsEntry } from '../support/paths.js';

const stack = inject('stack');
const taskQueue = `hs-nodes-${process.pid}`;
const dbDir = mkdtempSync(path.join(os.tmpdir(), 'hs-nodes-db-'));
const env = {
  ...stack.env,
  HACKSTREAM_TASK_QUEUE: taskQueue,
  HACKSTREAM_DB_PATH: path.join(dbDir, 'nodes.sqlite'),
  HACKSTREAM_NODE_ID: 'tiny',
  HACKSTREAM_NODE_LABELS: 'size=tiny',
  HACKSTREAM_NODE_MAX_SESSIONS: '1',
  // Users' sessions only on nodes labelled size=tiny; admins' anywhere.
  HACKSTREAM_ROLE_POLICIES: JSON.stringify({ user: { nodeLabels: { size: 'tiny' } } }),
};
const logger = createLogger({ level: 'error', service: 'node-worker', json: false });

let db: Database;
let worker: SessionWorker;
let t: ApiUnderTest;

beforeAll(async () => {
  installTemporalRuntime(logger);
  const config = loadWorkerConfig(env);
  db = await openDatabase(config.db);
  await migrateToLatest(db, config.db.driver);
  worker = await createSessionWorker({ config, logger, db, workflows: { workflowsPath: workflowsEntry } });
  void worker.run();
  t = await startApiOn(stack, env);
}, 60_000);

afterAll(async () => {
  await t?.close();
  await worker?.close();
  await db?.close();
  rmSync(dbDir, { recursive: true, force: true });
});

/** The activity task queues the session's workflow scheduled its activities on, by activity. */
async function activityQueues(sessionId: string): Promise<Record<string, string>> {
  const history = await t.temporal.workflow.getHandle(sessionWorkflowId(sessionId)).fetchHistory();
  const out: Record<string, string> = {};
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a?.activityType?.name) out[a.activityType.name] = a.taskQueue?.name ?? '';
  }
  return out;
}

describe('session nodes', () => {
  it('places a session on the node, runs its container activities on the node’s queue, and refuses what does not fit', async () => {
    const registry = new NodeRegistry(db);
    expect(await registry.get('tiny')).toMatchObject({ state: 'active', labels: { size: 'tiny' }, capacity: { maxSessions: 1 }, reserved: { sessions: 0 } });
    const admin = await t.newUser('admin');
    const [alice, bob] = [await t.newUser(), await t.newUser()];

    const first = await t.call('POST', '/v1/sessions', { token: alice.token, body: { app: 'firefox', node_labels: { size: 'tiny' } } });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const id: string = first.body.session_id;
    expect(first.body.node).toBe('tiny');
    expect((await t.call('GET', `/v1/sessions/${id}`, { token: alice.token })).body.node).toBe('tiny');
    expect(await sessionContainers(id)).toHaveLength(1);
    const queues = await activityQueues(id);
    expect(queues['placeSession']).toBe(taskQueue);
    expect(queues['provisionSession']).toBe(nodeTaskQueue(taskQueue, 'tiny'));
    // The session's key is made on the node and certified on the control queue, where the CA is.
    expect(queues['createSessionKey']).toBe(nodeTaskQueue(taskQueue, 'tiny'));
    expect(queues['signSessionCertificate']).toBe(taskQueue);
    expect(queues['installSessionCertificate']).toBe(nodeTaskQueue(taskQueue, 'tiny'));
    expect(queues['addSessionRoutes']).toBe(taskQueue);
    expect((await registry.get('tiny'))?.reserved.sessions).toBe(1);

    // The node is full: the next session fails at once, with nothing made and no quota held.
    const full = await t.call('POST', '/v1/sessions', { token: bob.token, body: { app: 'firefox' } });
    expect(full.status, JSON.stringify(full.body)).toBe(503);
    expect(full.body.error).toMatchObject({ code: 'no_capacity', session_id: expect.any(String) });
    expect(full.headers['retry-after']).toBe('30');
    const refused: string = full.body.error.session_id;
    expect(await sessionContainers(refused)).toHaveLength(0);
    expect((await t.call('GET', `/v1/sessions/${refused}`, { token: bob.token })).body).toMatchObject({ state: 'failed', reason: 'no_capacity', node: null });
    expect((await t.call('GET', '/v1/quotas', { token: bob.token })).body.usage.sessions).toBe(0);

    // Stopping the session gives its room back; a draining node still takes nothing new.
    expect((await t.call('POST', `/v1/sessions/${id}/stop`, { token: alice.token })).status).toBe(200);
    expect((await registry.get('tiny'))?.reserved).toEqual({ memoryMb: 0, cpus: 0, sessions: 0 });
    // Labels: a node with room but not the label asked for takes nothing; a user may not ask
    // away from the label the user role requires.
    const elsewhere = await t.call('POST', '/v1/sessions', { token: admin.token, body: { app: 'firefox', node_labels: { size: 'huge' } } });
    expect(elsewhere.status, JSON.stringify(elsewhere.body)).toBe(503);
    expect(elsewhere.body.error.code).toBe('no_capacity');
    const forbidden = await t.call('POST', '/v1/sessions', { token: bob.token, body: { app: 'firefox', node_labels: { size: 'huge' } } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toMatchObject({ code: 'node_labels_not_allowed', message: expect.stringContaining('size=tiny') });
    expect((await t.call('POST', '/v1/nodes/tiny/drain', { token: admin.token })).body.state).toBe('draining');
    const draining = await t.call('POST', '/v1/sessions', { token: bob.token, body: { app: 'firefox' } });
    expect(draining.status).toBe(503);
    expect(draining.body.error.code).toBe('no_capacity');

    // Back in service: it takes a session again, and its metrics say so.
    expect((await t.call('POST', '/v1/nodes/tiny/approve', { token: admin.token })).body.state).toBe('active');
    const again = await t.call('POST', '/v1/sessions', { token: bob.token, body: { app: 'firefox' } });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(again.body.node).toBe('tiny');
    const metrics = await (await fetch(`${t.api.url}/metrics`)).text();
    expect(metrics).toMatch(/^hackstream_nodes\{state="active"\} 1$/m);
    expect(metrics).toMatch(/^hackstream_node_reserved_sessions\{node="tiny",state="active"\} 1$/m);
    expect((await t.call('POST', `/v1/sessions/${again.body.session_id as string}/stop`, { token: bob.token })).status).toBe(200);
    expect((await registry.get('tiny'))?.reserved.sessions).toBe(0);
  }, 180_000);
});
