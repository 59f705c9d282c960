/**
 * Outages of the API's and the worker's dependencies against the real stack: a worker and an API
 * of their own, on a Redis of their own (killed and restarted here) and reaching Temporal through
 * a relay this test cuts. While a dependency is down the API answers 503 dependency_unavailable
 * with Retry-After, never a 500; teardown removes the container and network without Redis; and
 * everything recovers by itself when the dependency is back.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sessionLabelFilter } from '../../activities/container-labels.js';
import { loadWorkerConfig } from '../../core/config.js';
import { openDatabase, type Database } from '../../core/db/orm.js';
import { createLogger } from '../../core/logger.js';
import { SessionRows } from '../../core/session-rows.js';
import { createSessionWorker, type SessionWorker } from '../../worker/session-worker.js';
import { installTemporalRuntime } from '../../worker/temporal-runtime.js';
import { sessionWorkflowId, stopSignal } from '../../workflows/messages.js';
import { startApiOn, type ApiUnderTest } from '../support/api-under-test.js';
import { metricValue } from '../support/prometheus.js';
import { docker, sessionContainers } from '../support/docker.js';
import { workflowsEntry } from '../support/paths.js';
import { startRedis } from '../support/redis-server.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';

const stack = inject('stack');
const taskQueue = `hs-outage-${process.pid}`;

let redis: Awaited<ReturnType<typeof startRedis>>;
let temporalRelay: TcpRelay;
let db: Database;
let worker: SessionWorker;
let t: ApiUnderTest;

beforeAll(async () => {
  redis = await startRedis();
  temporalRelay = await startTcpRelay(Number(stack.temporalAddress.split(':').pop()));
  const env = { ...stack.env, HACKSTREAM_TASK_QUEUE: taskQueue, HACKSTREAM_REDIS_URL: redis.url };
  const config = loadWorkerConfig({ ...env, HACKSTREAM_REDIS_URL: redis.workerUrl });
  db = await openDatabase(config.db);
  t = await startApiOn(stack, { ...env, HACKSTREAM_TEMPORAL_ADDRESS: `127.0.0.1:${temporalRelay.port}` });
  const logger = createLogger({ level: 'error', service: 'outage-worker', json: false });
  installTemporalRuntime(logger);
  worker = await createSessionWorker({ config, logger, db, workflows: { workflowsPath: workflowsEntry } });
  void worker.run();
});

afterAll(async () => {
  await t?.close();
  await worker?.close();
  await db?.close();
  await temporalRelay?.close();
  await redis?.stop();
});

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, seconds: number): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let last: T;
  do {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  } while (Date.now() < deadline);
  throw new Error(`${what} within ${seconds}s; last: ${JSON.stringify(last)}`);
}

const expectUnavailable = (res: { status: number; body: any; headers: Record<string, unknown> }, dependency: RegExp) => {
  expect(res.status, JSON.stringify(res.body)).toBe(503);
  expect(res.body.error).toMatchObject({ code: 'dependency_unavailable', message: expect.stringMatching(dependency) });
  expect(res.headers['retry-after']).toBe('5');
};

describe('a dependency outage', () => {
  it('Redis down: 503s, the session container and network still go at teardown, and all recovers when Redis is back', async () => {
    const user = await t.newUser();
    const created = await t.startSession(user.token);
    const id: string = created.session_id;

    await redis.kill();
    const counted = async () => metricValue(await (await fetch(`${t.api.url}/metrics`)).text(), 'hackstream_api_dependency_unavailable_total{dependency="redis"}');
    const before = await counted();
    expectUnavailable(await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } }), /Redis/);
    expect(await counted()).toBe(before! + 1); // what the operators' alert watches (deploy/prometheus)

    await t.temporal.workflow.getHandle(sessionWorkflowId(id)).signal(stopSignal, { reason: 'admin_stop', by: 'outage-test' });
    const networks = () => docker.listNetworks({ filters: { label: [sessionLabelFilter(id)] } });
    await until('the container and network were not removed while Redis is down', async () => (await sessionContainers(id)).length + (await networks()).length, (n) => n === 0, 60);
    // The revocation is what waits for Redis: the session is not final yet.
    const rows = new SessionRows(db);
    expect((await rows.find(id))?.state).toBe('stopping');

    await redis.restart();
    await until('the session did not finish its teardown after Redis came back', async () => (await rows.find(id))?.state, (s) => s === 'stopped', 90);
    const again = await until('the API did not recover after Redis came back', () => t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } }), (r) => r.status !== 503, 30);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    await t.call('POST', `/v1/sessions/${again.body.session_id}/stop`, { token: user.token });
  });

  it('Temporal unreachable: a create answers 503 and gives its reservation back; creates work again once Temporal is back', async () => {
    const user = await t.newUser();
    await temporalRelay.cut();
    try {
      expectUnavailable(await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } }), /Temporal/);
    } finally {
      await temporalRelay.restore();
    }
    const listed = await t.call('GET', '/v1/sessions', { token: user.token });
    expect(listed.body.sessions.map((s: { state: string }) => s.state)).toEqual(['failed']);
    const created = await until('creates did not work again after Temporal came back', () => t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } }), (r) => r.status !== 503, 60);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await t.call('POST', `/v1/sessions/${created.body.session_id}/stop`, { token: user.token });
  });
});
