/**
 * Two session nodes, two Docker engines: `alpha`, a worker of the control plane on the host's
 * engine, and `beta`, a node-only worker (HACKSTREAM_WORKER_ROLE=node) in a network namespace of
 * its own with an engine of its own (test/support/second-engine.ts), as a second machine on the
 * LAN would be. Beta reaches Temporal and Redis at the host's address on their link (relays stand
 * in for services listening there) and the database as a shared file; the ingress on the host
 * reaches beta's sessions over the link, admitted by beta's firewall (HACKSTREAM_INGRESS_SOURCES).
 *
 * Each node keeps a warm pool of its own, on its own engine. Sessions are placed by bin-packing
 * (beta, the fuller node, first), from that node's pool, until beta is at capacity, concurrent
 * creates included; a session bound to alpha's label goes to alpha (and takes alpha's warm
 * container) while beta has room; a session on each node renders in Chromium through the ingress; a drained beta drops its pool, gets no
 * new session and keeps its own; kill -9 of beta's worker and engine ends its sessions
 * `node_lost` within a minute with nothing left reserved, its pool is forgotten, and beta back
 * again removes what its lost sessions left.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadWorkerConfig } from '../../core/config.js';
import { migrateToLatest, openDatabase, type Database } from '../../core/db/orm.js';
import { LABELS, poolLabel, sessionLabelFilter } from '../../activities/container-labels.js';
import { poolReadyKey, type WarmSlot } from '../../core/pool-store.js';
import { nodeTaskQueue, poolScheduleId } from '../../workflows/messages.js';
import { createLogger } from '../../core/logger.js';
import { NodeRegistry } from '../../core/node-registry.js';
import { createSessionWorker, type SessionWorker } from '../../worker/session-worker.js';
import { installTemporalRuntime } from '../../worker/temporal-runtime.js';
import { startApiOn, type ApiUnderTest } from '../support/api-under-test.js';
import { launchChromium, openSessionWindow, type TestBrowser } from '../support/browser.js';
import { spawnControlPlane, type ControlPlaneProcess } from '../support/control-plane-process.js';
import { docker, sessionContainers } from '../support/docker.js';
import { workflowsEntry } from '../support/paths.js';
import { startSecondEngine, type SecondEngine } from '../support/second-engine.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { PAGE_COLOUR, serveTestPage, type TestPage } from '../support/test-page.js';
import { until } from '../support/until.js';
import { windowShows } from '../support/xpra-page.js';

const stack = inject('stack');
const dbDir = mkdtempSync(path.join(os.tmpdir(), 'hs-second-node-db-'));
const taskQueue = `hs-second-node-${process.pid}`;
const common = {
  ...stack.env,
  HACKSTREAM_TASK_QUEUE: taskQueue,
  // One warm container per node, looked after every 5 s (not only when a claim triggers a run).
  HACKSTREAM_POOL: 'firefox:auto:1',
  HACKSTREAM_POOL_INTERVAL_SECONDS: '5',
  HACKSTREAM_DB_PATH: path.join(dbDir, 'nodes.sqlite'),
  // Silent for three heartbeats (3 s) and a node is lost.
  HACKSTREAM_NODE_HEARTBEAT_SECONDS: '1',
  HACKSTREAM_WORKER_METRICS_PORT: '0',
};
const logger = createLogger({ level: 'error', service: 'second-node', json: false });

let engine: SecondEngine;
let relays: TcpRelay[] = [];
let db: Database;
let alpha: SessionWorker;
let beta: ControlPlaneProcess | undefined;
let betaEnv: Record<string, string>;
let t: ApiUnderTest;
let chromium: TestBrowser;
let browser: Browser;
let page: TestPage;

/** beta's worker, a `node` process in beta's network namespace; ready once it polls its queue. */
async function startBeta(): Promise<ControlPlaneProcess> {
  return spawnControlPlane('worker', betaEnv, (out) => out.includes('worker started'), engine.inNamespace);
}

/** Containers of one session on beta's engine. */
const onBeta = (sessionId: string) => engine.docker.listContainers({ all: true, filters: { label: [sessionLabelFilter(sessionId)] } });

const redis = new Redis(String(stack.env['HACKSTREAM_REDIS_URL']));
/** A node's ready warm containers (what the API claims from). */
const readyOn = async (node: string): Promise<WarmSlot[]> =>
  (await redis.lrange(poolReadyKey(taskQueue, node, 'firefox-auto', loadWorkerConfig(common).apps['firefox']!.image), 0, -1)).map((raw) => JSON.parse(raw) as WarmSlot);
/** The pool's containers on a node's engine (claimed ones keep the label). */
const poolContainersOn = (node: string, engineDocker: Docker) =>
  engineDocker.listContainers({ all: true, filters: { label: [`${LABELS.pool}=${poolLabel(nodeTaskQueue(taskQueue, node), 'firefox-auto')}`] } });
const untilReady = (node: string, n: number) => until(`${n} warm container(s) on ${node}`, async () => ((await readyOn(node)).length === n ? true : null), 180_000);

beforeAll(async () => {
  engine = await startSecondEngine();
  const workerConfig = loadWorkerConfig(common);
  engine.copyImage(workerConfig.apps['firefox']!.image);
  const temporal = new URL(`tcp://${stack.temporalAddress}`);
  const redis = new URL(String(stack.env['HACKSTREAM_REDIS_URL']));
  relays = [
    await startTcpRelay(Number(temporal.port), temporal.hostname, engine.hostAddress),
    await startTcpRelay(Number(redis.port), redis.hostname, engine.hostAddress),
  ];
  const betaRedis = new URL(redis);
  betaRedis.host = `${engine.hostAddress}:${relays[1]!.port}`;
  betaEnv = {
    ...common,
    HACKSTREAM_WORKER_ROLE: 'node',
    HACKSTREAM_NODE_ID: 'beta',
    HACKSTREAM_NODE_MEMORY_MB: '8192',
    HACKSTREAM_NODE_MAX_SESSIONS: '2',
    HACKSTREAM_DOCKER_SOCKET: engine.socket,
    HACKSTREAM_SESSION_SUBNETS: engine.sessionSubnets,
    HACKSTREAM_SESSION_FILES_DIR: path.join(engine.dir, 'sessions'),
    HACKSTREAM_PROFILES_DIR: path.join(engine.dir, 'profiles'),
    // No copy of the HackStream CA on beta: its sessions' keys are certified on the control queue.
    HACKSTREAM_CA_DIR: path.join(engine.dir, 'no-ca'),
    HACKSTREAM_INGRESS_SOURCES: `${engine.hostAddress}/32`,
    HACKSTREAM_TEMPORAL_ADDRESS: `${engine.hostAddress}:${relays[0]!.port}`,
    HACKSTREAM_REDIS_URL: betaRedis.toString(),
    HACKSTREAM_LOG_LEVEL: 'info',
  };

  installTemporalRuntime(logger);
  const alphaConfig = loadWorkerConfig({ ...common, HACKSTREAM_NODE_ID: 'alpha', HACKSTREAM_NODE_MEMORY_MB: '16384', HACKSTREAM_NODE_LABELS: 'site=host' });
  db = await openDatabase(alphaConfig.db);
  await migrateToLatest(db, alphaConfig.db.driver);
  alpha = await createSessionWorker({ config: alphaConfig, logger, db, workflows: { workflowsPath: workflowsEntry } });
  void alpha.run();
  beta = await startBeta();
  t = await startApiOn(stack, common);
  page = await serveTestPage(stack.outside);
  chromium = await launchChromium({ trustCaFile: stack.caFile });
  browser = chromium.browser;
}, 300_000);

afterAll(async () => {
  await chromium?.close();
  await page?.close();
  await t?.temporal.schedule.getHandle(poolScheduleId(taskQueue)).delete().catch(() => undefined);
  await t?.close();
  await beta?.stop();
  await alpha?.close();
  // What a warm-up under way at the end left on the host's engine (beta's engine goes whole).
  for (const c of await poolContainersOn('alpha', docker)) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  redis.disconnect();
  await db?.close();
  for (const relay of relays) await relay.close();
  await engine?.remove();
  rmSync(dbDir, { recursive: true, force: true });
});

async function create(url?: string, nodeLabels?: Record<string, string>): Promise<{ id: string; node: string; token: string; body: any }> {
  const user = await t.newUser();
  const res = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox', ...(url ? { url } : {}), ...(nodeLabels ? { node_labels: nodeLabels } : {}) } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.session_id, node: res.body.node, token: user.token, body: res.body };
}

/** What comes next here needs the session's room on its node back: stopped, not only stopping. */
const stopAndWait = (s: { id: string; token: string }) => t.stopAndWait(s.token, s.id);

describe('a second session node on an engine of its own', () => {
  let onBetaA: Awaited<ReturnType<typeof create>>;

  it('takes sessions by bin-packing from its own pool until it is full, a session on each node renders through the ingress, and drained it drops its pool', async () => {
    // Each node warms its own container, on its own engine.
    await untilReady('beta', 1);
    await untilReady('alpha', 1);
    const [betaWarm] = await readyOn('beta');
    expect(betaWarm!.node).toBe('beta');
    expect(await onBeta(betaWarm!.sessionId)).toHaveLength(1);
    expect(await sessionContainers(betaWarm!.sessionId)).toHaveLength(0);

    // beta has less memory free than alpha: bin-packing fills it first, from its pool.
    onBetaA = await create(page.url);
    expect([onBetaA.node, onBetaA.body.start, onBetaA.id]).toEqual(['beta', 'warm', betaWarm!.sessionId]);
    // A session bound to alpha's label goes there (and to alpha's pool), though beta has room.
    const [alphaWarm] = await readyOn('alpha');
    const onAlphaByLabel = await create(undefined, { site: 'host' });
    expect([onAlphaByLabel.node, onAlphaByLabel.body.start, onAlphaByLabel.id]).toEqual(['alpha', 'warm', alphaWarm!.sessionId]);
    await untilReady('beta', 1);
    const onBetaB = await create();
    expect([onBetaB.node, onBetaB.body.start]).toEqual(['beta', 'warm']);
    // beta is at capacity (two sessions): it gets no more, and warms nothing it could not take.
    const onAlpha = await create();
    expect(onAlpha.node).toBe('alpha');
    // Each on its own node's engine, and only there.
    expect(await onBeta(onBetaA.id)).toHaveLength(1);
    expect(await sessionContainers(onBetaA.id)).toHaveLength(0);
    expect(await onBeta(onAlpha.id)).toHaveLength(0);
    expect(await sessionContainers(onAlpha.id)).toHaveLength(1);
    expect(await readyOn('beta')).toEqual([]);

    // The page, rendered on each node, in Chromium through the host's ingress (to beta over the link).
    const onAlphaWithPage = await create(page.url, { site: 'host' });
    expect(onAlphaWithPage.node).toBe('alpha');
    for (const s of [onBetaA, onAlphaWithPage]) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const tab = await context.newPage();
      const response = await openSessionWindow(tab, s.body.connect.browser.url, { check: windowShows, arg: { title: page.title, colour: PAGE_COLOUR } });
      expect(response?.status(), s.node).toBe(200);
      await context.close();
    }
    await stopAndWait(onAlphaWithPage);

    // A slot free on beta again: its pool is refilled there.
    await stopAndWait(onBetaB);
    await until('beta’s stopped session', async () => ((await onBeta(onBetaB.id)).length === 0 ? true : null), 60_000);
    await untilReady('beta', 1);
    const [refilled] = await readyOn('beta');

    // Drained: beta drops its pool, gets no new session; its own keeps running.
    const admin = await t.newUser('admin');
    expect((await t.call('POST', '/v1/nodes/beta/drain', { token: admin.token })).status).toBe(200);
    await untilReady('beta', 0);
    await until('beta’s warm container removed', async () => ((await onBeta(refilled!.sessionId)).length === 0 ? true : null), 60_000);
    expect((await poolContainersOn('beta', engine.docker)).map((c) => c.Labels[LABELS.session])).toEqual([onBetaA.id]);
    const afterDrain = await create();
    expect(afterDrain.node).toBe('alpha');
    expect((await t.call('GET', `/v1/sessions/${onBetaA.id}`, { token: onBetaA.token })).body.state).toMatch(/^(ready|active)$/);
    expect((await onBeta(onBetaA.id))[0]?.State).toBe('running');
    for (const s of [onAlpha, onAlphaByLabel, afterDrain]) await stopAndWait(s);
    expect((await t.call('POST', '/v1/nodes/beta/approve', { token: admin.token })).status).toBe(200);
  }, 420_000);

  it('never gives a node more than it has room for under concurrent creates', async () => {
    const registry = new NodeRegistry(db);
    await until('beta back in service', async () => ((await registry.get('beta'))?.state === 'active' ? true : null), 30_000);
    // beta has one session (onBetaA) and room for one more; four creates at once.
    const burst = await Promise.all(Array.from({ length: 4 }, () => create()));
    const nodes = burst.map((s) => s.node).sort();
    expect(nodes).toEqual(['alpha', 'alpha', 'alpha', 'beta']);
    expect((await registry.get('beta'))?.reserved.sessions).toBe(2);
    for (const s of burst) await stopAndWait(s);
  }, 240_000);

  it('ends a killed node’s sessions node_lost, frees what they held, and collects their containers when it is back', async () => {
    const registry = new NodeRegistry(db);
    const routeFile = path.join(stack.dataDir, 'traefik', 'dynamic', `session-${onBetaA.id}.yml`);
    // kill -9 of beta's worker and of its engine: the host is gone as far as anyone can tell.
    beta!.proc.kill('SIGKILL');
    engine.kill();
    beta = undefined;
    const killedAt = Date.now();
    const ended = await until('the lost node’s session', async () => {
      const s = (await t.call('GET', `/v1/sessions/${onBetaA.id}`, { token: onBetaA.token })).body;
      return s.state === 'failed' ? s : null;
    }, 60_000);
    expect(ended).toMatchObject({ state: 'failed', reason: 'node_lost', node: 'beta' });
    expect(Date.now() - killedAt).toBeLessThan(60_000);
    expect((await registry.get('beta'))?.state).toBe('lost');
    expect((await registry.get('beta'))?.reserved).toEqual({ memoryMb: 0, cpus: 0, sessions: 0 });
    expect(await registry.sessionsOn('beta')).toEqual([]);
    expect((await t.call('GET', '/v1/quotas', { token: onBetaA.token })).body.usage.sessions).toBe(0);
    // Nobody is handed a warm container of a node that is gone.
    await untilReady('beta', 0);
    await until('the lost session’s route removed', () => (existsSync(routeFile) ? null : true), 60_000);

    // beta's engine and worker back: in service again, and its lost session's container removed.
    await engine.start();
    expect(await onBeta(onBetaA.id)).toHaveLength(1);
    beta = await startBeta();
    await until('beta in service', async () => ((await registry.get('beta'))?.state === 'active' ? true : null), 60_000);
    await until('the lost session’s container on beta removed', async () => ((await onBeta(onBetaA.id)).length === 0 ? true : null), 60_000);
  }, 240_000);
});
