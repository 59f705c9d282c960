/**
 * The pool of pre-warmed containers against the real stack: a second worker in this process,
 * with a pool configured, on a task queue of its own, and an API on the same queue. The schedule
 * interval is an hour, so every refill seen here comes from the claims' triggers.
 */
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DockerSessionRuntime } from '../../activities/docker-session-runtime.js';
import { SubnetPool } from '../../activities/subnet-pool.js';
import { LABELS } from '../../activities/container-labels.js';
import { FILES, SESSION_FILES_MOUNT } from '../../activities/session-files.js';
import { loadWorkerConfig, type WorkerConfig } from '../../core/config.js';
import { openDatabase, type Database } from '../../core/db/orm.js';
import { createLogger } from '../../core/logger.js';
import { poolLabel } from '../../activities/container-labels.js';
import { poolReadyKey } from '../../core/pool-store.js';
import { createSessionWorker, type SessionWorker } from '../../worker/session-worker.js';
import { installTemporalRuntime } from '../../worker/temporal-runtime.js';
import { nodeTaskQueue, poolScheduleId, type WarmSlot } from '../../workflows/messages.js';
import { startApiOn, type ApiUnderTest } from '../support/api-under-test.js';
import { launchChromium, openSessionWindow, type TestBrowser } from '../support/browser.js';
import { containerEvents, docker, execIn, sessionContainers } from '../support/docker.js';
import { until } from '../support/until.js';
import { workflowsEntry } from '../support/paths.js';
import { metricValue } from '../support/prometheus.js';
import { PAGE_COLOUR, serveTestPage, type TestPage } from '../support/test-page.js';
import { windowFillsTab, windowShows } from '../support/xpra-page.js';

const stack = inject('stack');
const taskQueue = `hs-pool-${process.pid}`;
const POOL = 'firefox-auto';
const env = {
  ...stack.env,
  HACKSTREAM_TASK_QUEUE: taskQueue,
  HACKSTREAM_POOL: 'firefox:auto:2',
  HACKSTREAM_POOL_INTERVAL_SECONDS: '3600',
  // Users get other limits than the pool's containers start with: the claim must apply them.
  HACKSTREAM_SESSION_MEMORY_MB: '1536',
  HACKSTREAM_ROLE_POLICIES: JSON.stringify({ user: { memoryMb: 1280, cpus: 0.75, maxSessions: 3 }, admin: { fileTransfer: true } }),
};
const logger = createLogger({ level: 'warn', service: 'pool-worker', json: false });

let config: WorkerConfig;
let db: Database;
let worker: SessionWorker | undefined;
let t: ApiUnderTest;
let chromium: TestBrowser;
let browser: Browser;
let page: TestPage;
const redis = new Redis(stack.env['HACKSTREAM_REDIS_URL']!);

async function startWorker(): Promise<SessionWorker> {
  const w = await createSessionWorker({ config, logger, db, workflows: { workflowsPath: workflowsEntry } });
  void w.run();
  return w;
}

/** The API's own Prometheus exposition (not routed by the ingress). */
async function metrics(): Promise<string> {
  const res = await fetch(`${t.api.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

const poolReady = async () => metricValue(await metrics(), `hackstream_pool_ready{pool="${POOL}"}`) ?? -1;

async function waitForPool(size: number, seconds = 120): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  let last = -1;
  while (Date.now() < deadline) {
    last = await poolReady();
    if (last === size) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the pool did not reach ${size} ready containers in ${seconds}s (last: ${last})`);
}

/** The pool's ready list (what the API claims from): session id → container id. */
async function readyList(): Promise<Map<string, string>> {
  const raws = await redis.lrange(poolReadyKey(taskQueue, config.node.id, POOL, config.apps['firefox']!.image), 0, -1);
  return new Map(raws.map((raw) => JSON.parse(raw) as WarmSlot).map((s) => [s.sessionId, s.containerId]));
}

beforeAll(async () => {
  installTemporalRuntime(logger);
  config = loadWorkerConfig(env);
  db = await openDatabase(config.db);
  // The API first: warm containers' routes go live only once its ForwardAuth middleware is in
  // the ingress. Starting the worker then creates the schedule and fills the pool at once.
  t = await startApiOn(stack, env);
  worker = await startWorker();
  page = await serveTestPage(inject('stack').outside);
  chromium = await launchChromium({ trustCaFile: stack.caFile });
  browser = chromium.browser;
});

afterAll(async () => {
  await chromium?.close();
  await page?.close();
  await t?.temporal.schedule.getHandle(poolScheduleId(taskQueue)).delete().catch(() => undefined);
  await t?.close();
  await worker?.close();
  // Warm containers have no session row, so the stack's own clean-up does not know them.
  const runtime = new DockerSessionRuntime(docker, new SubnetPool(config.sessionSubnets), taskQueue);
  for (const c of await runtime.listManaged()) {
    if (c.pool === poolLabel(nodeTaskQueue(taskQueue, config.node.id), POOL)) await runtime.removeSessionContainers(c.sessionId);
  }
  await db?.close();
  redis.disconnect();
});

describe('the warm pool', () => {
  it('is filled when the worker starts; a warm container admits nobody until a session claims it', async () => {
    await waitForPool(2);
    const warm = await readyList();
    expect(warm.size).toBe(2);
    for (const containerId of warm.values()) {
      const inspected = await docker.getContainer(containerId).inspect();
      expect(inspected.State.Running).toBe(true);
      expect(inspected.Config.Labels[LABELS.pool]).toBe(poolLabel(nodeTaskQueue(taskQueue, config.node.id), POOL));
      // Warming started at a low CPU priority (never competing with sessions); once its app was up, a session's.
      expect(inspected.HostConfig.CpuShares).toBe(1024);
      expect(inspected.HostConfig.Memory).toBe(config.session.memoryMb * 1024 * 1024);
      // Certificate in place, token public key absent: the container's token check accepts nothing.
      expect((await execIn(containerId, ['test', '-e', `${SESSION_FILES_MOUNT}/${FILES.cert}`])).exitCode).toBe(0);
      expect((await execIn(containerId, ['test', '-e', `${SESSION_FILES_MOUNT}/${FILES.tokenPublicKey}`])).exitCode).not.toBe(0);
    }
  });

  it('hands each of concurrent creates its own container, or a cold start once empty; all succeed', async () => {
    await waitForPool(2);
    const before = await readyList();
    const users = await Promise.all([t.newUser(), t.newUser(), t.newUser()]);
    const since = Date.now() / 1000;
    const created = await Promise.all(
      users.map((u) => t.call('POST', '/v1/sessions', { token: u.token, body: { app: 'firefox', url: page.url } })),
    );
    for (const c of created) expect(c.status, JSON.stringify(c.body)).toBe(201);
    const warm = created.filter((c) => c.body.start === 'warm');
    const cold = created.filter((c) => c.body.start === 'cold');
    expect(warm).toHaveLength(2);
    expect(cold).toHaveLength(1);

    const containerIds = new Set<string>();
    for (const c of created) {
      const containers = await sessionContainers(c.body.session_id);
      expect(containers).toHaveLength(1);
      containerIds.add(containers[0]!.Id);
    }
    expect(containerIds.size).toBe(3);
    // The warm sessions took over exactly the two containers that were waiting.
    expect(new Set(warm.map((c) => before.get(c.body.session_id)))).toEqual(new Set(before.values()));

    // The user's limits, not the pool's, apply to the claimed containers.
    for (const c of warm) {
      const [info] = await sessionContainers(c.body.session_id);
      const inspected = await docker.getContainer(info!.Id).inspect();
      expect(inspected.HostConfig.Memory).toBe(1280 * 1024 * 1024);
      expect(inspected.HostConfig.NanoCpus).toBe(0.75e9);
      expect(inspected.HostConfig.CpuShares).toBe(1024);
      expect(await containerEvents(info!.Id, 'update', since, Date.now() / 1000 + 1)).toHaveLength(1);
    }

    const text = await metrics();
    expect(metricValue(text, `hackstream_pool_claims_total{pool="${POOL}"}`)).toBe(2);
    expect(metricValue(text, `hackstream_pool_misses_total{pool="${POOL}"}`)).toBe(1);
    expect(metricValue(text, 'hackstream_session_start_seconds_count{start="warm"}')).toBe(2);
    expect(metricValue(text, 'hackstream_session_start_seconds_count{start="cold"}')).toBe(1);

    // The claims asked for a refill: the pool is full again long before its hourly tick, with
    // new containers (a claimed one never comes back).
    await waitForPool(2);
    const refilled = await readyList();
    for (const c of created) expect(refilled.has(c.body.session_id)).toBe(false);

    for (const [i, c] of created.entries()) {
      const stopped = await t.call('POST', `/v1/sessions/${c.body.session_id}/stop`, { token: users[i]!.token });
      expect(stopped.body.state).toBe('stopped');
      expect(await sessionContainers(c.body.session_id)).toHaveLength(0);
    }
  });

  it("changes nothing in the engine when the claiming user's limits are the pool's", async () => {
    await waitForPool(2);
    const admin = await t.newUser('admin');
    const user = await t.newUser();
    const s = config.session;
    const patched = await t.call('PATCH', `/v1/users/${user.id}`, { token: admin.token, body: { quota: { memory_mb: s.memoryMb, cpus: s.cpus } } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const since = Date.now() / 1000;
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.start).toBe('warm');
    const [info] = await sessionContainers(created.body.session_id);
    const inspected = await docker.getContainer(info!.Id).inspect();
    expect(inspected.HostConfig).toMatchObject({ Memory: s.memoryMb * 1024 * 1024, NanoCpus: Math.round(s.cpus * 1e9), CpuShares: 1024 });
    // The engine's own record: no update of the claimed container since the request.
    expect(await containerEvents(info!.Id, 'update', since, Date.now() / 1000 + 1)).toHaveLength(0);
    await t.stopAndWait(user.token, created.body.session_id);
  });

  it("lets an operator list the sessions in Temporal's UI without the pool's runs (the README's query)", async () => {
    // The query the README gives, narrowed to this test's queue; visibility is eventually consistent.
    const list = async (query: string) => {
      const found: Array<{ type: string; id: string }> = [];
      for await (const w of t.temporal.workflow.list({ query })) found.push({ type: w.type, id: w.workflowId });
      return found;
    };
    const deadline = Date.now() + 30_000;
    let sessions = await list(`WorkflowType = "SessionWorkflow" AND TaskQueue = "${taskQueue}"`);
    while (sessions.length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      sessions = await list(`WorkflowType = "SessionWorkflow" AND TaskQueue = "${taskQueue}"`);
    }
    expect(sessions.length).toBeGreaterThanOrEqual(3); // the previous test's three creates
    expect(new Set(sessions.map((w) => w.type))).toEqual(new Set(['SessionWorkflow']));
    expect(sessions.every((w) => w.id.startsWith('session-'))).toBe(true);
    // …while the same queue has the pool's runs, which the query leaves out.
    const all = await list(`TaskQueue = "${taskQueue}"`);
    expect(all.some((w) => w.type === 'PoolWarmerWorkflow')).toBe(true);
  });

  it('opens the requested page in the claimed Firefox, shown in the browser client', async () => {
    await waitForPool(2);
    const user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox', url: page.url } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ state: 'ready', start: 'warm', url: page.url, user_id: user.id });
    const id = created.body.session_id;
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const tab = await context.newPage();
      await openSessionWindow(tab, created.body.connect.browser.url, { check: windowShows, arg: { title: page.title, colour: PAGE_COLOUR } });
      // Firefox fills the tab: neither cut off nor streaming rows nobody sees.
      await tab.waitForFunction(windowFillsTab, undefined, { timeout: 15_000 });
    } finally {
      await context.close();
      await t.call('POST', `/v1/sessions/${id}/stop`, { token: user.token });
    }
  });

  it('removes a warm container whose claim fails, and starts the session cold on a fresh one with the user\'s limits', async () => {
    await waitForPool(2);
    const head = await redis.lindex(poolReadyKey(taskQueue, config.node.id, POOL, config.apps['firefox']!.image), 0);
    const slot = JSON.parse(head!) as WarmSlot;
    // The app in it exits (as a crash would): the claim finds the container no longer running,
    // and the stopped container, still there under the session's name, must not be reused.
    await docker.getContainer(slot.containerId).kill();
    await until('the warm container stopped', async () => ((await docker.getContainer(slot.containerId).inspect()).State.Running ? null : true), 20_000);

    const user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox', url: page.url } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ session_id: slot.sessionId, start: 'cold', state: 'ready' });
    const containers = await sessionContainers(slot.sessionId);
    expect(containers).toHaveLength(1);
    expect(containers[0]!.Id).not.toBe(slot.containerId);
    await expect(docker.getContainer(slot.containerId).inspect()).rejects.toMatchObject({ statusCode: 404 });
    const fresh = await docker.getContainer(containers[0]!.Id).inspect();
    expect(fresh.Config.Labels[LABELS.pool]).toBeUndefined();
    expect(fresh.HostConfig.CpuShares).toBe(1024);
    expect(fresh.HostConfig.Memory).toBe(1280 * 1024 * 1024);
    expect((await t.call('POST', `/v1/sessions/${slot.sessionId}/stop`, { token: user.token })).body.state).toBe('stopped');
  });

  it('starts cold, leaving the pool alone, for a session whose policy differs from the warm containers', async () => {
    await waitForPool(2);
    const admin = await t.newUser('admin'); // file transfer on: not what warm containers run with
    const created = await t.call('POST', '/v1/sessions', { token: admin.token, body: { app: 'firefox' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.start).toBe('cold');
    expect(await poolReady()).toBe(2);
    await t.call('POST', `/v1/sessions/${created.body.session_id}/stop`, { token: admin.token });
  });

  it('keeps one schedule across worker restarts, updated to the configuration of the newest; a stopping worker drains its pool', async () => {
    const handle = t.temporal.schedule.getHandle(poolScheduleId(taskQueue));
    const first = await handle.describe();
    const warmBefore = [...(await readyList()).values()];
    await worker!.close();
    for (const id of warmBefore) await expect(docker.getContainer(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect((await readyList()).size).toBe(0);
    config = loadWorkerConfig({ ...env, HACKSTREAM_POOL: 'firefox:auto:1', HACKSTREAM_POOL_INTERVAL_SECONDS: '1800' });
    worker = await startWorker();
    const second = await handle.describe();
    expect(second.info.createdAt).toEqual(first.info.createdAt);
    expect(second.spec.intervals).toMatchObject([{ every: 1_800_000 }]);
    expect(second.action.type).toBe('startWorkflow');
    expect(JSON.stringify((second.action as { args?: unknown[] }).args)).toContain('"size":1');
    const ours: string[] = [];
    for await (const s of t.temporal.schedule.list()) if (s.scheduleId === poolScheduleId(taskQueue)) ours.push(s.scheduleId);
    expect(ours).toHaveLength(1);
    // The stopped worker removed its unclaimed containers; the new one asked for a run at once.
    await waitForPool(1);
  });
});
