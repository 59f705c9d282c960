/**
 * SessionWorkflow's timers and transitions on Temporal's time-skipping test server, with fake
 * activities that record what the workflow asked for.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { testSessionSpec } from '../support/session-spec.js';
import { ContainerExitedError, ImageMissingError, NotReadyInTimeError } from '../../activities/errors.js';
import type { accountAccessActivities } from '../../activities/account-access-activities.js';
import type { SessionActivities as AllActivities, WatchInput } from '../../activities/index.js';
import {
  profileDeletionWorkflowId,
  activityHeartbeatSignal,
  appExitedSignal,
  awaitReadyUpdate,
  clientAttachedSignal,
  nodeTaskQueue,
  sessionSnapshotQuery,
  sessionWatchQuery,
  sessionWorkflowId,
  poolName,
  stopSignal,
  type PoolSpec,
  type ReconcileInput,
  type SessionSnapshot,
  type SessionSpec,
  type WarmSlot,
} from '../../workflows/messages.js';
import type { PoolWarmerWorkflow } from '../../workflows/pool-warmer-workflow.js';
import type { PoolNode } from '../../activities/warm-pool-ledger.js';
import type { ReconcileWorkflow } from '../../workflows/reconcile-workflow.js';
import type { ProfileDeletionWorkflow } from '../../workflows/profile-deletion-workflow.js';
import type { SessionWorkflow } from '../../workflows/session-workflow.js';
import { createLogger } from '../../core/logger.js';
import { ensureSearchAttributes } from '../../worker/search-attributes.js';
import { installTemporalRuntime } from '../../worker/temporal-runtime.js';
import { historyRecorder } from '../support/history-recorder.js';
import { temporalTestServer, workflowsEntry } from '../support/paths.js';

/** The session workflow's and the pool warmer's activities (the account change's have tests of their own). */
type SessionActivities = Omit<AllActivities, keyof ReturnType<typeof accountAccessActivities>>;

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  // Errors only: the fakes fail on purpose (e.g. the unavailable watcher) and would flood the output.
  const logger = createLogger({ level: 'error', service: 'workflow-test', json: false });
  installTemporalRuntime(logger);
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServer() } },
  });
  // The workflow upserts custom search attributes; they must exist, as on a real namespace.
  await ensureSearchAttributes(env.connection, 'default', logger);
});

/** HACKSTREAM_RECORD_HISTORIES=<dir>: the tests' histories become replay fixtures there. */
const recorder = historyRecorder();

afterAll(async () => {
  await recorder.write(env);
  await env?.teardown();
});

// The test server's clock runs ahead of the real one once a test has skipped time.
async function spec(overrides: Partial<SessionSpec['timeouts']> = {}): Promise<SessionSpec> {
  return testSessionSpec('hackstream/session-firefox:test', {
    url: 'https://example.com/',
    resources: { memoryMb: 1024, cpus: 1, shmMb: 512, pidsLimit: 512 },
    timeouts: { idleSeconds: 15 * 60, connectSeconds: 5 * 60, maxDurationSeconds: 8 * 3600, readySeconds: 60, activityPollSeconds: 5, ...overrides },
    requestedAt: await env.currentTimeMs(),
  });
}

/** Waits (in real time, polling) until the fake saw what the test expects. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Fakes {
  activities: SessionActivities;
  states: string[];
  /** Audit records the workflow wrote: `<action>` or `<action>:<reason>`. */
  audits: string[];
  /** Every side effect, in order, e.g. `key:<id>`, `install:<id>:<cert>`, `routes+:<id>@<ip>`, `remove:<id>`. */
  calls: string[];
  teardowns: string[];
  /** provisionSession has begun (a test that stops during provisioning waits for it). */
  provisionStarted: boolean;
  provisionCancelled: boolean;
  /** Calls of the watcher activity: only sessions that began before the session monitor make them. */
  watchInputs: WatchInput[];
  /** Every activity that ran, as `<name>@<task queue>`. */
  ranOn: string[];
}

/** What the per-node pools' fakes hold: the nodes and what the run does with each, their ready slots, what their check finds. */
interface PoolWorld {
  nodes: PoolNode[];
  slots: Record<string, WarmSlot[]>;
  unusable?: string[];
  unlisted?: string[];
  /** Every n-th container start fails. */
  failEvery?: number;
}

/**
 * Activities that behave like the real ones would, without Docker or a database. What the
 * worker's session monitor would observe (an attach, activity, the app's exit), the tests signal
 * themselves.
 */
function fakes(
  opts: { provision?: 'ok' | 'image-missing' | 'hang'; warm?: 'ok' | 'dead'; pool?: { ready: number; failEvery?: number }; nodePools?: PoolWorld; noCapacity?: boolean; credentialsDownUntilRemoved?: boolean; profileUsage?: { usedMb: number; capMb: number }; profileMounted?: boolean } = {},
): Fakes {
  const f: Fakes = {
    states: [],
    audits: [],
    calls: [],
    teardowns: [],
    provisionStarted: false,
    provisionCancelled: false,
    watchInputs: [],
    ranOn: [],
    activities: undefined as unknown as SessionActivities,
  };
  // Real-time waits inside fake activities; the activity stays cancellable through heartbeats.
  const waitUntilCancelled = async (onCancel: () => void, maxMs = 60_000): Promise<void> => {
    const ctx = Context.current();
    const until = Date.now() + maxMs;
    try {
      while (Date.now() < until) {
        ctx.heartbeat();
        await ctx.sleep(100);
      }
    } catch (err) {
      onCancel();
      throw err;
    }
  };
  f.activities = {
    async recordSession(s: SessionSnapshot) {
      f.states.push(s.state);
    },
    async recordAudit(e) {
      const reason = e.details?.['reason'];
      f.audits.push(typeof reason === 'string' ? `${e.action}:${reason}` : e.action);
    },
    async placeSession(input) {
      if (opts.noCapacity) return null;
      f.calls.push(`place:${input.sessionId}:${input.memoryMb}:${input.cpus}${input.warmNode ? `:warm@${input.warmNode}` : ''}${input.profile ? `:profile-of:${input.profile.userId}:${input.profile.app}` : ''}`);
      return NODE;
    },
    async releasePlacement({ sessionId }) {
      f.calls.push(`release:${sessionId}`);
      return { released: !opts.noCapacity };
    },
    async prepareSessionFiles({ spec: s }) {
      f.calls.push(`files:${s.sessionId}`);
    },
    async createSessionKey({ sessionId }) {
      f.calls.push(`key:${sessionId}`);
      return { publicKeySpki: `pub-${sessionId}` };
    },
    async signSessionCertificate({ sessionId, publicKeySpki }) {
      f.calls.push(`sign:${sessionId}:${publicKeySpki}`);
      return { certPem: `cert-${sessionId}`, tokenPublicKeyHex: 'ab' };
    },
    async installSessionCertificate({ sessionId, certPem, tokenPublicKeyHex }) {
      f.calls.push(`install:${sessionId}:${certPem}${tokenPublicKeyHex === undefined ? ':no-token-key' : ''}`);
    },
    async provisionSession(s: SessionSpec) {
      f.provisionStarted = true;
      if (opts.provision === 'image-missing') throw new ImageMissingError(s.image);
      if (opts.provision === 'hang') {
        await waitUntilCancelled(() => (f.provisionCancelled = true));
      }
      f.calls.push(`container:${s.sessionId}`);
      return { id: `container-${s.sessionId}`, name: `hackstream-session-${s.sessionId}`, ip: '172.30.0.2' };
    },
    async claimWarmContainer({ spec: s, slot }) {
      if (opts.warm === 'dead') throw new ContainerExitedError(`warm container ${slot.containerName} is no longer running`);
      f.calls.push(`claim:${s.sessionId}:${slot.containerId}:${s.url}`);
      return { id: slot.containerId, name: slot.containerName, ip: slot.ip };
    },
    async reconcileSessions(input: ReconcileInput) {
      f.calls.push(`reconcile-sessions:${input.graceSeconds}`);
      return { sessions: 3, reconciled: 1, removed: { container: 1, row: 1 } };
    },
    async reconcilePool(pool: PoolSpec) {
      f.calls.push(`reconcile:${poolName(pool.app, pool.quality)}`);
      return { ready: opts.pool?.ready ?? 0, removed: 1 };
    },
    async warmContainer(pool: PoolSpec) {
      const n = f.calls.filter((c) => c.startsWith('warm')).length + 1;
      if (opts.pool?.failEvery && n % opts.pool.failEvery === 0) {
        f.calls.push(`warm-failed:${poolName(pool.app, pool.quality)}`);
        throw new NotReadyInTimeError('session not ready after 60s');
      }
      f.calls.push(`warm:${poolName(pool.app, pool.quality)}`);
      const id = randomUUID();
      return { sessionId: id, app: pool.app, quality: pool.quality, containerId: `c-${id}`, containerName: `n-${id}`, ip: '10.213.0.2', readyAt: Date.now() };
    },
    async addSessionRoutes({ sessionId, containerIp, node }) {
      f.calls.push(`routes+:${sessionId}@${containerIp}${node ? `:${node}` : ''}`);
    },
    async poolNodes() {
      return opts.nodePools?.nodes ?? [];
    },
    // The world's slots and findings are the `auto` pool's; other pools have none.
    async listWarmSlots({ node, pool }) {
      return pool.quality === 'auto' ? (opts.nodePools?.slots[node] ?? []) : [];
    },
    async checkWarmContainers({ pool, slots }) {
      f.calls.push(`check:${poolName(pool.app, pool.quality)}:${slots.map((s) => s.sessionId).join(',')}`);
      return pool.quality === 'auto' ? { unusable: opts.nodePools?.unusable ?? [], unlisted: opts.nodePools?.unlisted ?? [] } : { unusable: [], unlisted: [] };
    },
    async takeBackWarmSlots({ node, sessionIds, unlisted }) {
      const world = opts.nodePools!;
      const taken = (world.slots[node] ?? []).filter((s) => sessionIds === null || sessionIds.includes(s.sessionId)).map((s) => s.sessionId);
      world.slots[node] = (world.slots[node] ?? []).filter((s) => !taken.includes(s.sessionId));
      f.calls.push(`take-back:${node}:${taken.join(',')}`);
      return [...taken, ...(unlisted ?? [])];
    },
    async startWarmContainer({ pool, sessionId }) {
      const n = f.calls.filter((c) => c.startsWith('start-warm')).length + 1;
      if (opts.nodePools?.failEvery && n % opts.nodePools.failEvery === 0) {
        f.calls.push(`start-warm-failed:${sessionId}`);
        throw new NotReadyInTimeError('session not ready after 60s');
      }
      f.calls.push(`start-warm:${poolName(pool.app, pool.quality)}:${sessionId}`);
      return { id: `c-${sessionId}`, name: `n-${sessionId}`, ip: '10.213.0.3' };
    },
    async offerWarmSlot({ node, slot }) {
      f.calls.push(`offer:${node}:${slot.sessionId}:${slot.node}`);
    },
    async removeSessionRoutes({ sessionId }) {
      f.calls.push(`routes-:${sessionId}`);
    },
    async revokeSessionCredentials({ sessionId }) {
      if (opts.credentialsDownUntilRemoved && !f.calls.includes(`remove:${sessionId}`)) {
        f.calls.push(`revoke-failed:${sessionId}`);
        throw new Error('Redis is unavailable');
      }
      f.calls.push(`revoke:${sessionId}`);
      return { revoked: 0 };
    },
    async watchSession(input: WatchInput) {
      f.watchInputs.push(input);
      throw new Error('the session monitor watches this session: no watcher activity should run');
    },
    async removeSession(input: { sessionId: string }) {
      f.calls.push(`remove:${input.sessionId}`);
      f.teardowns.push(input.sessionId);
      return { removed: 1, revoked: 0, ...(opts.profileUsage ? { profile: opts.profileUsage } : {}) };
    },
    async recordProfileUsage(input) {
      f.calls.push(`profile-usage:${input.userId}:${input.app}:${input.usedMb}/${input.capMb}`);
    },
    async deleteProfileVolume(input) {
      f.calls.push(`delete-volume:${input.userId}:${input.app}`);
      if (opts.profileMounted) throw ApplicationFailure.create({ type: 'ProfileInUseError', message: 'mounted for another session' });
      return { deleted: true };
    },
    async forgetProfile(input) {
      f.calls.push(`forget-profile:${input.userId}:${input.app}`);
      return { forgotten: true };
    },
    // Only replays of teardowns recorded before removeSession existed call these three.
    async teardownSession(input: { sessionId: string }) {
      f.calls.push(`teardown:${input.sessionId}`);
      f.teardowns.push(input.sessionId);
      return { removed: 1 };
    },
  } satisfies SessionActivities;
  // Where each ran: the control queue or a node's.
  f.activities = Object.fromEntries(
    Object.entries(f.activities).map(([name, fn]) => [
      name,
      (...args: unknown[]) => {
        f.ranOn.push(`${name}@${Context.current().info.taskQueue}`);
        return (fn as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as unknown as SessionActivities;
  return f;
}

/** The node the fake placement puts every session on. */
const NODE = 'node-a';

/** A worker on a fresh control task queue, and one on each node's queue (the same fakes on all). */
async function withWorker<T>(f: Fakes, fn: (taskQueue: string) => Promise<T>, nodes: readonly string[] = [NODE]): Promise<T> {
  const taskQueue = `wf-test-${randomUUID()}`;
  const common = {
    connection: env.nativeConnection,
    activities: f.activities,
    // Deliver activity cancellations promptly (on the next heartbeat, not up to 24 s later).
    maxHeartbeatThrottleInterval: '200 ms',
  };
  const worker = await Worker.create({ ...common, taskQueue, workflowsPath: workflowsEntry });
  let run = worker.runUntil(fn(taskQueue));
  for (const node of nodes) run = (await Worker.create({ ...common, taskQueue: nodeTaskQueue(taskQueue, node) })).runUntil(run);
  return run;
}

async function startSession(taskQueue: string, s: SessionSpec, historyLimit?: number) {
  const handle = await env.client.workflow.start<typeof SessionWorkflow>('SessionWorkflow', {
    taskQueue,
    workflowId: sessionWorkflowId(s.sessionId),
    args: [{ spec: s, historyLimit }],
  });
  recorder.remember('session', handle);
  return handle;
}

describe('SessionWorkflow', () => {
  it('provisions, becomes ready, and ends with reason idle when nobody connects within the idle timeout', async () => {
    const f = fakes();
    const s = await spec({ idleSeconds: 10 * 60, connectSeconds: 30 * 60 });
    const snapshot = await withWorker(f, async (tq) => {
      const handle = await startSession(tq, s);
      const ready = await handle.executeUpdate(awaitReadyUpdate);
      expect(ready.state).toBe('ready');
      expect(ready.container?.ip).toBe('172.30.0.2');
      await env.sleep('11 minutes');
      return handle.result();
    });
    expect(snapshot.state).toBe('stopped');
    expect(snapshot.reason).toBe('idle');
    expect(f.states).toEqual(['provisioning', 'ready', 'stopping', 'stopped']);
    // Files and container before routes; at the end, routes and credentials go before the container.
    const id = s.sessionId;
    expect(f.calls).toEqual([`place:${id}:1024:1`, `key:${id}`, `sign:${id}:pub-${id}`, `install:${id}:cert-${id}`, `container:${id}`, `routes+:${id}@172.30.0.2`, `routes-:${id}`, `revoke:${id}`, `remove:${id}`, `release:${id}`]);
    // The doors close on the control queue (where the ingress and the credentials are), the rest on the node.
    const ran = (name: string) => f.ranOn.filter((r) => r.startsWith(`${name}@`));
    expect([...ran('removeSessionRoutes'), ...ran('revokeSessionCredentials')].map((r) => r.includes('-node-'))).toEqual([false, false]);
    expect(ran('removeSession').map((r) => r.endsWith(`-node-${NODE}`))).toEqual([true]);
    // The node it was placed on is part of what it records.
    expect(snapshot.node).toBe(NODE);
    expect(f.audits).toEqual(['session.created', 'session.expired:idle']);
  });

  it('places a persistent session where its profile is, and records what the profile uses once its node unmounted it', async () => {
    const f = fakes({ profileUsage: { usedMb: 37, capMb: 1000 } });
    const s: SessionSpec = { ...(await spec()), profile: 'persist', profileCapMb: 1000 };
    const snapshot = await withWorker(f, async (tq) => {
      const handle = await startSession(tq, s);
      expect((await handle.executeUpdate(awaitReadyUpdate)).state).toBe('ready');
      await handle.signal(stopSignal, { reason: 'user_stop', by: s.userId });
      return handle.result();
    });
    expect(snapshot).toMatchObject({ state: 'stopped', reason: 'user_stop' });
    const id = s.sessionId;
    expect(f.calls[0]).toBe(`place:${id}:1024:1:profile-of:${s.userId}:firefox`);
    // After the node's removal (which unmounted it), before the row is final and the profile free again.
    expect(f.calls.slice(-3)).toEqual([`remove:${id}`, `profile-usage:${s.userId}:firefox:37/1000`, `release:${id}`]);
    expect(f.states.at(-1)).toBe('stopped');
  });

  it('ends with connect_timeout when no client attaches before the connect deadline', async () => {
    const f = fakes();
    const s = await spec({ idleSeconds: 60 * 60, connectSeconds: 2 * 60 });
    const snapshot = await withWorker(f, async (tq) => {
      const handle = await startSession(tq, s);
      await handle.executeUpdate(awaitReadyUpdate);
      await env.sleep('3 minutes');
      return handle.result();
    });
    expect(snapshot).toMatchObject({ state: 'stopped', reason: 'connect_timeout', attachedAt: null });
    expect(f.teardowns).toEqual([s.sessionId]);
  });

  it('keeps an active session alive while activity heartbeats arrive, then idles it out', async () => {
    const f = fakes();
    const s = await spec({ idleSeconds: 5 * 60, connectSeconds: 60 });
    const handle = await withWorker(f, async (tq) => {
      const h = await startSession(tq, s);
      await h.executeUpdate(awaitReadyUpdate);
      await h.signal(clientAttachedSignal, { at: Date.now() });
      // 12 minutes of use, a heartbeat every 3 minutes: past both the connect deadline and the idle timeout.
      for (let i = 0; i < 4; i++) {
        await env.sleep('3 minutes');
        expect((await h.query(sessionSnapshotQuery)).state).toBe('active');
        await h.signal(activityHeartbeatSignal, { at: await env.currentTimeMs() });
      }
      expect((await h.query(sessionSnapshotQuery)).state).toBe('active');
      await env.sleep('6 minutes');
      return h;
    });
    const snapshot = await handle.result();
    expect(snapshot.reason).toBe('idle');
    expect(snapshot.attachedAt).not.toBeNull();
    expect(f.states).toEqual(['provisioning', 'ready', 'active', 'stopping', 'stopped']);
  });

  it('ends at once when a stop arrives while its first attach is being recorded, not at the idle timeout', async () => {
    const f = fakes();
    const s = await spec({ idleSeconds: 15 * 60 });
    // The record of `active` takes a while; the stop arrives during it.
    let stopDuringActivation: () => Promise<void> = async () => undefined;
    const record = f.activities.recordSession.bind(f.activities);
    f.activities.recordSession = async (snap) => {
      if (snap.state === 'active') await stopDuringActivation();
      return record(snap);
    };
    const snapshot = await withWorker(f, async (tq) => {
      const h = await startSession(tq, s);
      await h.executeUpdate(awaitReadyUpdate);
      stopDuringActivation = () => h.signal(stopSignal, { reason: 'user_stop', by: s.userId });
      await h.signal(clientAttachedSignal, { at: Date.now() });
      return h.result();
    });
    expect(snapshot).toMatchObject({ state: 'stopped', reason: 'user_stop' });
    // Well before the idle timeout of 15 minutes (the test server skips time while it waits).
    expect(snapshot.endedAt! - snapshot.startedAt).toBeLessThan(60_000);
    expect(f.states).toEqual(['provisioning', 'ready', 'active', 'stopping', 'stopped']);
  });

  it('ends with max_duration however active the session is', async () => {
    const f = fakes();
    const s = await spec({ idleSeconds: 10 * 60, maxDurationSeconds: 30 * 60 });
    const snapshot = await withWorker(f, async (tq) => {
      const h = await startSession(tq, s);
      await h.executeUpdate(awaitReadyUpdate);
      await h.signal(clientAttachedSignal, { at: Date.now() });
      for (let i = 0; i < 5; i++) {
        await env.sleep('5 minutes');
        await h.signal(activityHeartbeatSignal, { at: await env.currentTimeMs() });
      }
      expect((await h.query(sessionSnapshotQuery)).state).toBe('active');
      await env.sleep('6 minutes');
      return h.result();
    });
    expect(snapshot).toMatchObject({ state: 'stopped', reason: 'max_duration' });
    expect(snapshot.endedAt! - snapshot.startedAt).toBeLessThan(31 * 60 * 1000);
  });

  it('ends node_lost when its node goes silent: the control side is cleared, the node is not waited for', async () => {
    const f = fakes();
    const s = await spec();
    const snapshot = await withWorker(f, async (tq) => {
      const h = await startSession(tq, s);
      await h.executeUpdate(awaitReadyUpdate);
      await h.signal(stopSignal, { reason: 'node_lost', by: null });
      return h.result();
    });
    expect(snapshot).toMatchObject({ state: 'failed', reason: 'node_lost', node: NODE });
    const id = s.sessionId;
    // Routes and credentials on the control queue; no removal sent to the lost node; the room back.
    expect(f.calls.slice(-3)).toEqual([`routes-:${id}`, `revoke:${id}`, `release:${id}`]);
    expect(f.teardowns).toEqual([]);
    expect(f.audits).toEqual(['session.created', 'session.failed:node_lost']);
  });

  it('stops on request and tears down; the session monitor watches it, no watcher activity runs', async () => {
    const f = fakes();
    const s = await spec({ idleSeconds: 20 * 60 });
    const { snapshot, watch } = await withWorker(f, async (tq) => {
      const h = await startSession(tq, s);
      await h.executeUpdate(awaitReadyUpdate);
      const watch = await h.query(sessionWatchQuery);
      await h.signal(stopSignal, { reason: 'user_stop', by: s.userId });
      await h.signal(stopSignal, { reason: 'user_stop', by: s.userId }); // idempotent
      return { snapshot: await h.result(), watch };
    });
    expect(watch).toEqual({ monitored: true, idleSeconds: 20 * 60, attachedAt: null, lastActivityAt: null });
    expect(f.watchInputs).toEqual([]);
    expect(snapshot).toMatchObject({ state: 'stopped', reason: 'user_stop' });
    expect(f.teardowns).toEqual([s.sessionId]);
    expect(f.audits).toEqual(['session.created', 'session.stopped:user_stop']);
  });

  it('removes the container while the credentials store is down, and revokes once it is back', async () => {
    const f = fakes({ credentialsDownUntilRemoved: true });
    const s = await spec();
    const snapshot = await withWorker(f, async (tq) => {
      const h = await startSession(tq, s);
      await h.executeUpdate(awaitReadyUpdate);
      await h.signal(stopSignal, { reason: 'user_stop', by: s.userId });
      return h.result();
    });
    const id = s.sessionId;
    // A brief first try, then the node's removal, then the revocation until it is done; the room last.
    expect(f.calls.slice(f.calls.indexOf(`routes-:${id}`))).toEqual([`routes-:${id}`, `revoke-failed:${id}`, `revoke-failed:${id}`, `remove:${id}`, `revoke:${id}`, `release:${id}`]);
    expect(snapshot).toMatchObject({ state: 'stopped', reason: 'user_stop' });
  });

  it('stops during provisioning: cancels provisioning, then tears down', async () => {
    const f = fakes({ provision: 'hang' });
    const s = await spec();
    const snapshot = await withWorker(f, async (tq) => {
      const h = await startSession(tq, s);
      // The container's start itself is under way (placement and files come first).
      await eventually(() => f.provisionStarted, 'the container to be starting');
      expect((await h.query(sessionSnapshotQuery)).state).toBe('provisioning');
      await h.signal(stopSignal, { reason: 'user_stop', by: s.userId });
      return h.result();
    });
    expect(f.provisionCancelled).toBe(true);
    expect(snapshot).toMatchObject({ state: 'stopped', reason: 'user_stop', readyAt: null });
    expect(f.states).toEqual(['provisioning', 'stopping', 'stopped']);
    // No route was added for a session that never became ready; teardown still runs whole.
    const id = s.sessionId;
    expect(f.calls).toEqual([`place:${id}:1024:1`, `key:${id}`, `sign:${id}:pub-${id}`, `install:${id}:cert-${id}`, `routes-:${id}`, `revoke:${id}`, `remove:${id}`, `release:${id}`]);
  });

  it('ends no_capacity when no node has room: nothing made, and the ready update answers the failure', async () => {
    const f = fakes({ noCapacity: true });
    const s = await spec();
    const ready = await withWorker(f, async (tq) => {
      const h = await startSession(tq, s);
      const answer = await h.executeUpdate(awaitReadyUpdate);
      // The update answers once the failure is recorded; the audit record follows it.
      await h.result();
      return answer;
    });
    expect(ready).toMatchObject({ state: 'failed', reason: 'no_capacity', message: expect.stringContaining('1024 MB') });
    expect(ready.node).toBeUndefined();
    const id = s.sessionId;
    // No file, container or route; teardown still runs whole (it finds nothing to remove or release).
    expect(f.calls).toEqual([`routes-:${id}`, `revoke:${id}`, `remove:${id}`, `release:${id}`]);
    expect(f.states).toEqual(['provisioning', 'stopping', 'failed']);
    expect(f.audits).toEqual(['session.created', 'session.failed:no_capacity']);
  });

  it('fails without retrying when the image is missing, answering the ready update with the failure', async () => {
    const f = fakes({ provision: 'image-missing' });
    const s = await spec();
    const ready = await withWorker(f, async (tq) => {
      const h = await startSession(tq, s);
      const ready = await h.executeUpdate(awaitReadyUpdate);
      await h.result(); // the final audit record is written after the state the update answers with
      return ready;
    });
    expect(ready.state).toBe('failed');
    expect(ready.reason).toBe('provision_failed');
    expect(ready.message).toMatch(/ImageMissingError: session image "hackstream\/session-firefox:test" is not present/);
    expect(f.teardowns).toEqual([s.sessionId]);
    expect(f.audits).toEqual(['session.created', 'session.failed:provision_failed']);
  });

  it('ends with app_exited when the app closes by itself', async () => {
    const f = fakes();
    const s = await spec();
    const snapshot = await withWorker(f, async (tq) => {
      const h = await startSession(tq, s);
      await h.executeUpdate(awaitReadyUpdate);
      // What the session monitor sends when the container has exited.
      await h.signal(appExitedSignal, { exitCode: 0 });
      return h.result();
    });
    expect(snapshot, JSON.stringify(snapshot)).toMatchObject({ state: 'stopped', reason: 'app_exited' });
    expect(f.teardowns).toEqual([s.sessionId]);
  });

  it('tears down when the workflow is cancelled', async () => {
    const f = fakes();
    const s = await spec();
    const snapshot = await withWorker(f, async (tq) => {
      const h = await startSession(tq, s);
      await h.executeUpdate(awaitReadyUpdate);
      await h.cancel();
      return h.result();
    });
    expect(snapshot).toMatchObject({ state: 'stopped', reason: 'cancelled' });
    expect(f.teardowns).toEqual([s.sessionId]);
    expect(f.audits).toEqual(['session.created', 'session.stopped:cancelled']);
  });

  it('continues as new when history grows, keeping its clocks and its client', async () => {
    const f = fakes();
    const s = await spec({ idleSeconds: 10 * 60 });
    // Where it was, and what the test server's histories held, should it ever hang again (it did
    // once in CI, and not in over a hundred runs here, loaded or not).
    let step = 'start';
    const runIds: string[] = [];
    onTestFailed(async () => {
      const histories = await Promise.all(runIds.map(async (runId) => {
        const events = await env.client.workflow.getHandle(sessionWorkflowId(s.sessionId), runId).fetchHistory().then((h) => h.events ?? [], (err: Error) => err.message);
        return `run ${runId}: ${typeof events === 'string' ? events : events.map((e) => String(temporal.api.enums.v1.EventType[e.eventType ?? 0]).replace('EVENT_TYPE_', '')).join(' ')}`;
      }));
      console.error(`continue-as-new test failed at step "${step}"\n${histories.join('\n')}`);
    });
    const { firstRunId, last } = await withWorker(f, async (tq) => {
      // Above what provisioning alone writes, so the client attaches to the first run; far above
      // what the few signals after the switch write, so the next run is the last one. (A limit
      // provisioning reached made a chain of runs, and a query sent to a run while it continued
      // as new was never answered by the test server.)
      const h = await startSession(tq, s, 100);
      const firstRunId = h.firstExecutionRunId;
      runIds.push(firstRunId);
      step = 'ready';
      await h.executeUpdate(awaitReadyUpdate);
      const attachedAt = await env.currentTimeMs();
      step = 'attach';
      await h.signal(clientAttachedSignal, { at: attachedAt });
      const current = env.client.workflow.getHandle(sessionWorkflowId(s.sessionId));
      expect((await current.describe()).runId).toBe(firstRunId);
      // Heartbeats until the history passes the limit and the run continues as new.
      for (let i = 0; i < 100 && (await current.describe()).runId === firstRunId; i++) {
        step = `heartbeat ${i}`;
        await h.signal(activityHeartbeatSignal, { at: await env.currentTimeMs() });
      }
      runIds.push((await current.describe()).runId);
      // The run after continue-as-new: the session monitor learns the carried clocks from it.
      step = 'watch query';
      expect(await current.query(sessionWatchQuery)).toMatchObject({ monitored: true, attachedAt });
      step = 'snapshot query';
      const last = await h.query(sessionSnapshotQuery);
      expect(last.attachedAt).toBe(attachedAt);
      step = 'stop';
      await h.signal(stopSignal, { reason: 'user_stop', by: s.userId });
      // The result of the run that is current now, not followed from the first run: when the
      // continue-as-new raced with the heartbeat signals (its workflow task failed with an
      // unhandled command and was retried), the time-skipping test server leaves the first run's
      // history without its closing event, and a result followed from there never arrives.
      step = 'result';
      await env.client.workflow.getHandle(sessionWorkflowId(s.sessionId)).result();
      step = 'done';
      return { firstRunId, last };
    });
    const description = await env.client.workflow.getHandle(sessionWorkflowId(s.sessionId)).describe();
    expect(description.runId).not.toBe(firstRunId);
    expect(last.state).toBe('active');
    expect(f.watchInputs).toEqual([]);
    // Carried over, not re-provisioned: one provisioning record, one teardown.
    expect(f.states.filter((x) => x === 'provisioning')).toHaveLength(1);
    expect(f.teardowns).toEqual([s.sessionId]);
  });

  it('takes over a warm container: no files, container or routes made, the URL opened in it; teardown as usual', async () => {
    const f = fakes();
    const s = await spec();
    const slot: WarmSlot = { sessionId: s.sessionId, app: 'firefox', quality: 'auto', containerId: 'warm-1', containerName: 'hackstream-session-warm-1', ip: '10.213.0.18', readyAt: 0, node: NODE };
    const { ready, final } = await withWorker(f, async (tq) => {
      const h = await startSession(tq, { ...s, warm: slot });
      const ready = await h.executeUpdate(awaitReadyUpdate);
      await h.signal(stopSignal, { reason: 'user_stop', by: s.userId });
      return { ready, final: await h.result() };
    });
    expect(ready).toMatchObject({ state: 'ready', start: 'warm', container: { id: 'warm-1', ip: '10.213.0.18' } });
    expect(final).toMatchObject({ state: 'stopped', reason: 'user_stop' });
    const id = s.sessionId;
    expect(f.calls).toEqual([`place:${id}:1024:1:warm@${NODE}`, `claim:${id}:warm-1:${s.url}`, `routes-:${id}`, `revoke:${id}`, `remove:${id}`, `release:${id}`]);
    expect(f.states).toEqual(['provisioning', 'ready', 'stopping', 'stopped']);
  });

  it('starts cold where it was placed when its warm container is on another node (left to that node’s pool)', async () => {
    const f = fakes();
    const s = await spec();
    const slot: WarmSlot = { sessionId: s.sessionId, app: 'firefox', quality: 'auto', containerId: 'warm-3', containerName: 'hackstream-session-warm-3', ip: '10.213.0.50', readyAt: 0, node: 'node-b' };
    const ready = await withWorker(f, async (tq) => {
      const h = await startSession(tq, { ...s, warm: slot });
      const ready = await h.executeUpdate(awaitReadyUpdate);
      await h.signal(stopSignal, { reason: 'user_stop', by: s.userId });
      await h.result();
      return ready;
    });
    expect(ready).toMatchObject({ state: 'ready', start: 'cold', node: NODE });
    const id = s.sessionId;
    expect(f.calls.slice(0, 6)).toEqual([`place:${id}:1024:1:warm@node-b`, `key:${id}`, `sign:${id}:pub-${id}`, `install:${id}:cert-${id}`, `container:${id}`, `routes+:${id}@172.30.0.2`]);
  });

  it('removes an unusable warm container it was given, then starts cold on a fresh one', async () => {
    const f = fakes({ warm: 'dead' });
    const s = await spec();
    const slot: WarmSlot = { sessionId: s.sessionId, app: 'firefox', quality: 'auto', containerId: 'warm-2', containerName: 'hackstream-session-warm-2', ip: '10.213.0.34', readyAt: 0 };
    const ready = await withWorker(f, async (tq) => {
      const h = await startSession(tq, { ...s, warm: slot });
      const ready = await h.executeUpdate(awaitReadyUpdate);
      await h.signal(stopSignal, { reason: 'user_stop', by: s.userId });
      await h.result();
      return ready;
    });
    expect(ready).toMatchObject({ state: 'ready', start: 'cold', container: { ip: '172.30.0.2' } });
    const id = s.sessionId;
    // Everything of the warm container goes first: the cold start cannot find and reuse it.
    expect(f.calls.slice(0, 7)).toEqual([`place:${id}:1024:1`, `remove:${id}`, `key:${id}`, `sign:${id}:pub-${id}`, `install:${id}:cert-${id}`, `container:${id}`, `routes+:${id}@172.30.0.2`]);
  });
});

describe('PoolWarmerWorkflow', () => {
  const pool = (quality: PoolSpec['quality'], size: number): PoolSpec => ({
    app: 'firefox',
    quality,
    size,
    image: 'hackstream/session-firefox:test',
    resources: { memoryMb: 1024, cpus: 1, shmMb: 512, pidsLimit: 512 },
    readySeconds: 60,
    maxAgeSeconds: 3600,
    certLifetimeSeconds: 9 * 3600,
  });

  const run = (f: Fakes, pools: PoolSpec[], nodes: readonly string[]) =>
    withWorker(
      f,
      async (tq) => {
        const handle = await env.client.workflow.start<typeof PoolWarmerWorkflow>('PoolWarmerWorkflow', {
          taskQueue: tq,
          workflowId: `pool-${randomUUID()}`,
          args: [{ pools }],
        });
        recorder.remember('pool-warmer', handle);
        return handle.result();
      },
      nodes,
    );
  const ready = (sessionId: string, node: string): WarmSlot => ({ sessionId, app: 'firefox', quality: 'auto', containerId: `c-${sessionId}`, containerName: `n-${sessionId}`, ip: '10.213.0.2', readyAt: 0, node });

  it('keeps each active node’s pool: removes what is unusable or orphaned, then warms what is missing on that node; a failed warm-up is removed and does not fail the run', async () => {
    const f = fakes({
      nodePools: {
        nodes: [{ node: NODE, action: 'keep', targets: [4, 0] }],
        slots: { [NODE]: [ready('ok', NODE), ready('dead', NODE)] },
        unusable: ['dead'],
        unlisted: ['orphan'],
        failEvery: 3,
      },
    });
    const result = await run(f, [pool('auto', 4), pool('low', 1)], [NODE]);
    const nodeQueue = (name: string) => f.ranOn.filter((r) => r.startsWith(`${name}@`)).every((r) => r.endsWith(`-node-${NODE}`));
    // The node looks at its containers; the unusable slot and the orphan go, doors first.
    expect(f.calls).toContain('take-back:node-a:dead');
    for (const id of ['dead', 'orphan']) {
      const at = (c: string) => f.calls.indexOf(c);
      expect(at(`routes-:${id}`)).toBeGreaterThanOrEqual(0);
      expect(at(`routes-:${id}`)).toBeLessThan(at(`remove:${id}`));
    }
    // auto: 1 usable of 4 → 3 warm-ups, the third fails; low: a target of 0 on this node.
    const started = f.calls.filter((c) => c.startsWith('start-warm:firefox-auto:')).map((c) => c.split(':')[2]!);
    expect(started).toHaveLength(2);
    expect(f.calls.filter((c) => c.startsWith('start-warm:firefox-low'))).toEqual([]);
    for (const id of started) {
      // Key on the node, certificate on the control queue (no token key: it admits nobody yet),
      // container on the node, routes to it through its node, then offered in that node's list.
      const mine = f.calls.filter((c) => c.includes(id));
      expect(mine).toEqual([`key:${id}`, `sign:${id}:pub-${id}`, `install:${id}:cert-${id}:no-token-key`, `start-warm:firefox-auto:${id}`, `routes+:${id}@10.213.0.3:${NODE}`, `offer:${NODE}:${id}:${NODE}`]);
    }
    const failed = f.calls.find((c) => c.startsWith('start-warm-failed:'))!.split(':')[1]!;
    expect(f.calls.filter((c) => c.includes(failed)).slice(-3)).toEqual([`routes-:${failed}`, `revoke:${failed}`, `remove:${failed}`]);
    for (const name of ['createSessionKey', 'installSessionCertificate', 'startWarmContainer', 'checkWarmContainers', 'removeSession']) expect(nodeQueue(name), name).toBe(true);
    expect(f.ranOn.filter((r) => /^(signSessionCertificate|addSessionRoutes|offerWarmSlot|takeBackWarmSlots|poolNodes)@/.test(r)).every((r) => !r.includes('-node-'))).toBe(true);
    expect(result).toEqual({ warmed: 2, removed: 2 });
  });

  it('gives the oldest of a pool above its size back, doors first, and warms nothing', async () => {
    const at = (sessionId: string, readyAt: number): WarmSlot => ({ ...ready(sessionId, NODE), readyAt });
    const f = fakes({
      nodePools: {
        nodes: [{ node: NODE, action: 'keep', targets: [1] }],
        slots: { [NODE]: [at('newest', 3000), at('oldest', 1000), at('middle', 2000)] },
      },
    });
    const result = await run(f, [pool('auto', 1)], [NODE]);
    expect(f.calls.filter((c) => c.startsWith('take-back:'))).toEqual(['take-back:node-a:oldest,middle']);
    expect(f.calls.filter((c) => c.startsWith('remove:')).sort()).toEqual(['remove:middle', 'remove:oldest']);
    for (const id of ['oldest', 'middle']) expect(f.calls.indexOf(`routes-:${id}`)).toBeLessThan(f.calls.indexOf(`remove:${id}`));
    expect(f.calls.some((c) => c.startsWith('start-warm') || c.includes('newest:'))).toBe(false);
    expect(result).toEqual({ warmed: 0, removed: 2 });
  });

  it('drops a draining node’s pool on that node, and forgets a lost node’s without asking it', async () => {
    const f = fakes({
      nodePools: {
        nodes: [
          { node: NODE, action: 'drop' },
          { node: 'node-lost', action: 'forget' },
        ],
        slots: { [NODE]: [ready('d1', NODE), ready('d2', NODE)], 'node-lost': [ready('l1', 'node-lost')] },
      },
    });
    // No worker polls the lost node's queue: a call there would wait out its deadline.
    const result = await run(f, [pool('auto', 2)], [NODE]);
    expect(f.calls.filter((c) => c.startsWith('remove:')).sort()).toEqual(['remove:d1', 'remove:d2']);
    expect(f.calls).toContain('routes-:l1');
    expect(f.calls.some((c) => c.startsWith('start-warm') || c.startsWith('check:') || c === 'remove:l1')).toBe(false);
    expect(f.ranOn.some((r) => r.endsWith('-node-node-lost'))).toBe(false);
    expect(result).toEqual({ warmed: 0, removed: 3 });
  });
});

describe('ReconcileWorkflow', () => {
  it('runs one reconcile pass with the grace period it was given and returns its report', async () => {
    const f = fakes();
    const result = await withWorker(f, async (tq) => {
      const handle = await env.client.workflow.start<typeof ReconcileWorkflow>('ReconcileWorkflow', {
        taskQueue: tq,
        workflowId: `reconciler-${randomUUID()}`,
        args: [{ graceSeconds: 42 }],
      });
      recorder.remember('reconciler', handle);
      return handle.result();
    });
    expect(f.calls).toEqual(['reconcile-sessions:42']);
    expect(result).toEqual({ sessions: 3, reconciled: 1, removed: { container: 1, row: 1 } });
  });
});

describe('ProfileDeletionWorkflow', () => {
  const run = (f: Fakes, userId: string) =>
    withWorker(f, async (tq) => {
      const handle = await env.client.workflow.start<typeof ProfileDeletionWorkflow>('ProfileDeletionWorkflow', {
        taskQueue: tq,
        workflowId: profileDeletionWorkflowId(userId, 'firefox'),
        args: [{ userId, app: 'firefox', node: NODE }],
      });
      recorder.remember('profile-deletion', handle);
      return handle.result();
    });

  it("deletes the volume on the profile's node, then forgets its row on the control queue", async () => {
    const f = fakes();
    expect(await run(f, 'u-1')).toEqual({ volumeDeleted: true });
    expect(f.calls).toEqual(['delete-volume:u-1:firefox', 'forget-profile:u-1:firefox']);
    expect(f.ranOn).toEqual([`deleteProfileVolume@${f.ranOn[0]!.split('@')[1]}`, expect.stringMatching(/^forgetProfile@wf-test-[0-9a-f-]+$/)]);
    expect(f.ranOn[0]).toMatch(new RegExp(`-node-${NODE}$`));
  });

  it('keeps the row of a profile its node still has mounted, and fails at once (no retry)', async () => {
    const f = fakes({ profileMounted: true });
    await expect(run(f, 'u-2')).rejects.toThrow();
    expect(f.calls).toEqual(['delete-volume:u-2:firefox']);
  });
});
