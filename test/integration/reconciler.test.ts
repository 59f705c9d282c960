/**
 * The reconciler against the real stack: what a session's workflow can no longer tear down (an
 * operator terminated it; the API died between the row and the workflow's start) is removed by
 * one pass of the reconcile schedule, audited and counted, and the user's quota is free again.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sessionLabelFilter } from '../../activities/container-labels.js';
import { loadWorkerConfig } from '../../core/config.js';
import { AuditEvent } from '../../core/db/entities.js';
import { SessionRows } from '../../core/session-rows.js';
import { sessionWorkflowId } from '../../workflows/messages.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { docker, sessionContainers } from '../support/docker.js';
import { metricValue } from '../support/prometheus.js';
import { reconcileNow } from '../support/reconcile-pass.js';

const stack = inject('stack');
const config = loadWorkerConfig(stack.env);
const taskQueue = config.temporal.taskQueue;

let t: ApiUnderTest;
let redis: Redis;

beforeAll(async () => {
  // One session at a time per user: a leaked slot shows as a refused create.
  t = await startApiUnderTest({ HACKSTREAM_ROLE_POLICIES: JSON.stringify({ user: { maxSessions: 1 } }) });
  redis = new Redis(stack.env['HACKSTREAM_REDIS_URL']!);
});

afterAll(async () => {
  redis?.disconnect();
  await t?.close();
});

/** What the stack holds of a session on the host, in Redis and in the database. */
async function holdings(sessionId: string) {
  const networks = await docker.listNetworks({ filters: { label: [sessionLabelFilter(sessionId)] } });
  return {
    containers: (await sessionContainers(sessionId)).length,
    networks: networks.length,
    route: existsSync(path.join(config.ingress.routesDir, `session-${sessionId}.yml`)),
    files: existsSync(path.join(config.sessionFilesDir, sessionId)),
    credentials: await redis.exists(`hackstream:credentials:${sessionId}`),
  };
}

async function reconciledTotal(kind: string): Promise<number> {
  const text = await (await fetch(stack.workerMetricsUrl)).text();
  return metricValue(text, `hackstream_reconciled_total{kind="${kind}"}`) ?? NaN;
}

describe('the reconciler', () => {
  it('removes everything of a session whose workflow an operator terminated, ends its row and frees the quota', async () => {
    const user = await t.newUser();
    const created = await t.startSession(user.token);
    const id: string = created.session_id;
    // A browser credential issued: Redis holds the session's index too.
    expect((await t.call('POST', `/v1/sessions/${id}/connect`, { token: user.token })).status).toBe(200);

    await t.temporal.workflow.getHandle(sessionWorkflowId(id)).terminate('operator: temporal workflow terminate');
    // Nothing tears it down any more: everything is still there, and the quota is taken.
    expect(await holdings(id)).toEqual({ containers: 1, networks: 1, route: true, files: true, credentials: 1 });
    expect((await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } })).status).toBe(429);
    const before = { container: await reconciledTotal('container'), row: await reconciledTotal('row') };

    const report = await reconcileNow(t.temporal, taskQueue);

    expect(report.reconciled).toBeGreaterThanOrEqual(1);
    expect(await holdings(id)).toEqual({ containers: 0, networks: 0, route: false, files: false, credentials: 0 });
    const row = await t.call('GET', `/v1/sessions/${id}`, { token: user.token });
    expect(row.body).toMatchObject({ state: 'failed', reason: 'workflow_lost' });
    expect(row.body.message).toMatch(/TERMINATED/);
    const audit = await t.api.db.em.fork().find(AuditEvent, { targetId: id, action: { $like: 'reconcile.%' } }, { orderBy: { action: 'asc' } });
    expect(audit.map((a) => a.action)).toEqual(['reconcile.session_finalised', 'reconcile.session_removed']);
    expect(await reconciledTotal('container')).toBe(before.container + 1);
    expect(await reconciledTotal('row')).toBe(before.row + 1);

    // The slot is free: the same user starts a session again.
    const again = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect((await t.call('POST', `/v1/sessions/${again.body.session_id}/stop`, { token: user.token })).status).toBe(200);
  });

  it('frees the slot of a create whose API died between the row and the workflow, once the grace period is over', async () => {
    const user = await t.newUser();
    const rows = new SessionRows(t.api.db);
    // What the API writes under the quota lock before it starts the workflow, then died: one
    // reservation older than the grace period, and one of a create still in flight.
    const crashed = randomUUID();
    const inFlight = randomUUID();
    const reservation = { userId: user.id, app: 'firefox' as const, url: null, quality: 'auto' as const };
    await rows.reserve({ ...reservation, sessionId: crashed, requestedAt: Date.now() - (config.reconcile.graceSeconds + 60) * 1000 });
    expect((await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } })).status).toBe(429);

    await reconcileNow(t.temporal, taskQueue);
    await rows.reserve({ ...reservation, sessionId: inFlight, requestedAt: Date.now() });
    await reconcileNow(t.temporal, taskQueue);

    expect(await rows.find(crashed)).toMatchObject({ state: 'failed', reason: 'workflow_lost' });
    expect((await rows.find(crashed))?.message).toMatch(/no workflow/);
    // The create in flight keeps its reservation: its workflow may start any moment.
    expect(await rows.find(inFlight)).toMatchObject({ state: 'provisioning' });
    await rows.finaliseLost(inFlight, 'provision_failed', 'test over');
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await t.call('POST', `/v1/sessions/${created.body.session_id}/stop`, { token: user.token })).status).toBe(200);
  });

  it('is a schedule of the stack, every HACKSTREAM_RECONCILE_INTERVAL_SECONDS', async () => {
    const described = await t.temporal.schedule.getHandle(`hackstream-reconciler-${taskQueue}`).describe();
    expect(described.spec.intervals?.[0]?.every).toBe(config.reconcile.intervalSeconds * 1000);
    expect(described.state.paused).toBe(false);
  });
});
