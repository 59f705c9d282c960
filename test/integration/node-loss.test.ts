/**
 * A session node that goes silent, against the real stack: two workers on one control task queue
 * and one database of their own, nodes `alpha` and `beta` (on this machine's one engine: the node
 * is its worker). A session placed on `beta` ends `node_lost` soon after `beta`'s worker stops
 * (its room and the user's quota slot given back, the control side's routes removed); its
 * container stays until `beta` is back, whose start collects it before the node is in service.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadWorkerConfig } from '../../core/config.js';
import { migrateToLatest, openDatabase, type Database } from '../../core/db/orm.js';
import { createLogger } from '../../core/logger.js';
import { NodeRegistry } from '../../core/node-registry.js';
import { createSessionWorker, type SessionWorker } from '../../worker/session-worker.js';
import { installTemporalRuntime } from '../../worker/temporal-runtime.js';
import { startApiOn, type ApiUnderTest } from '../support/api-under-test.js';
import { sessionContainers } from '../support/docker.js';
import { workflowsEntry } from '../support/paths.js';

const stack = inject('stack');
const dbDir = mkdtempSync(path.join(os.tmpdir(), 'hs-node-loss-db-'));
const common = {
  ...stack.env,
  HACKSTREAM_TASK_QUEUE: `hs-node-loss-${process.pid}`,
  HACKSTREAM_DB_PATH: path.join(dbDir, 'nodes.sqlite'),
  // Silent for three heartbeats (3 s) and a node is lost.
  HACKSTREAM_NODE_HEARTBEAT_SECONDS: '1',
};
// Bin-packing puts a session on the node with the least free memory: `beta`.
const nodes = {
  alpha: { ...common, HACKSTREAM_NODE_ID: 'alpha', HACKSTREAM_NODE_MEMORY_MB: '16384', HACKSTREAM_WORKER_METRICS_PORT: '0' },
  beta: { ...common, HACKSTREAM_NODE_ID: 'beta', HACKSTREAM_NODE_MEMORY_MB: '8192', HACKSTREAM_WORKER_METRICS_PORT: '0' },
};
const logger = createLogger({ level: 'error', service: 'node-loss', json: false });

let db: Database;
let alpha: SessionWorker;
let beta: SessionWorker | undefined;
let t: ApiUnderTest;

async function startNode(env: Record<string, string>): Promise<SessionWorker> {
  const w = await createSessionWorker({ config: loadWorkerConfig(env), logger, db, workflows: { workflowsPath: workflowsEntry } });
  void w.run();
  return w;
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  installTemporalRuntime(logger);
  const config = loadWorkerConfig(nodes.alpha);
  db = await openDatabase(config.db);
  await migrateToLatest(db, config.db.driver);
  alpha = await startNode(nodes.alpha);
  beta = await startNode(nodes.beta);
  t = await startApiOn(stack, common);
}, 90_000);

afterAll(async () => {
  await t?.close();
  await beta?.close();
  await alpha?.close();
  await db?.close();
  rmSync(dbDir, { recursive: true, force: true });
});

describe('a lost session node', () => {
  it('ends its sessions node_lost within seconds, frees their room and quota, and collects their containers when it is back', async () => {
    const registry = new NodeRegistry(db);
    const user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id: string = created.body.session_id;
    expect(created.body.node).toBe('beta');
    const routeFile = path.join(stack.dataDir, 'traefik', 'dynamic', `session-${id}.yml`);
    expect(existsSync(routeFile)).toBe(true);

    // beta's worker stops: no heartbeat, nothing polls its queue. The container stays where it was.
    await beta!.close();
    beta = undefined;
    const stoppedAt = Date.now();
    const ended = await until('the session of the lost node', async () => (await t.call('GET', `/v1/sessions/${id}`, { token: user.token })).body, (s) => s.state === 'failed');
    expect(ended).toMatchObject({ state: 'failed', reason: 'node_lost', node: 'beta' });
    expect(Date.now() - stoppedAt).toBeLessThan(60_000);
    expect((await registry.get('beta'))?.state).toBe('lost');
    expect((await registry.get('beta'))?.reserved).toEqual({ memoryMb: 0, cpus: 0, sessions: 0 });
    expect(await registry.sessionsOn('beta')).toEqual([]);
    expect((await t.call('GET', '/v1/quotas', { token: user.token })).body.usage.sessions).toBe(0);
    expect(existsSync(routeFile)).toBe(false);
    expect(await sessionContainers(id)).toHaveLength(1);
    const admin = await t.newUser('admin');
    const audit = await t.call('GET', `/v1/audit?action=session.failed&limit=5`, { token: admin.token });
    expect(audit.body.events.find((e: { target_id: string }) => e.target_id === id)?.details).toMatchObject({ reason: 'node_lost' });

    // A new session meanwhile goes to the node that is alive.
    const other = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(other.status, JSON.stringify(other.body)).toBe(201);
    expect(other.body.node).toBe('alpha');

    // beta is back: in service again, and what its lost session left is removed (the reconcile
    // pass its worker's start runs); alpha's session is untouched.
    beta = await startNode(nodes.beta);
    expect((await registry.get('beta'))?.state).toBe('active');
    await until('the lost session’s container', () => sessionContainers(id), (cs) => cs.length === 0);
    expect(await sessionContainers(other.body.session_id as string)).toHaveLength(1);
    expect((await t.call('POST', `/v1/sessions/${other.body.session_id as string}/stop`, { token: user.token })).status).toBe(200);
  }, 240_000);
});
