/**
 * How many live sessions one worker watches while new sessions still start at normal speed.
 *
 * Stand-ins, not Firefox: hundreds of Firefox sessions do not fit on the benchmark's host, and
 * what is measured here is the control plane's side (the worker's session monitor, Temporal, the
 * database, Docker's listing), which a session costs the same whatever runs in its container. A
 * stand-in is a container of the session image running `sleep` (no network, 16 MiB), labelled as
 * the stack's session containers are, with its row `ready` in the database and a real
 * SessionWorkflow that starts where a provisioned session is (carried state: ready, its
 * container): the worker's monitor watches it exactly as it watches a real session nobody is
 * connected to. Teardown is the workflow's own (a stop signal each).
 *
 * At each step (a number of stand-ins), over one window: the monitor's mean pass time (from the
 * worker's metrics), the sessions it says it watches, cold starts of real sessions through the
 * API, the worker process's CPU and memory, the Docker engine's and Temporal's CPU, and the
 * history events the stand-ins' workflows added. At the end, every stand-in is stopped at once (a
 * drain or a mass stop): how long until every workflow's teardown is done, and how many containers
 * it left for the benchmark to remove.
 *
 * The baseline, measured first in the same run: cold starts beside as many bare containers (the
 * same image and command, no session's labels, no row, no workflow: nothing for the worker to
 * watch). A host with hundreds of containers starts a new one more slowly whatever watches them;
 * the worker's own share is the difference between the two at the same count.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { serializeLabels } from '../activities/container-labels.js';
import { loadWorkerConfig } from '../core/config.js';
import { openDatabase } from '../core/db/orm.js';
import { SessionRows } from '../core/session-rows.js';
import { sessionWorkflowId, stopSignal, type CarriedState, type SessionSnapshot, type SessionSpec } from '../workflows/messages.js';
import type { SessionWorkflow } from '../workflows/session-workflow.js';
import { docker, sleepingContainer } from '../test/support/docker.js';
import { scrapedValue } from '../test/support/prometheus.js';
import { testSessionSpec } from '../test/support/session-spec.js';
import type { TestStack } from '../test/support/test-stack.js';
import { engineMicros, ownMicros, processesMicros } from './host-cpu.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const MIB = 2 ** 20;
/** Creates and signals in flight at once while stand-ins come and go. */
const PARALLEL = 8;

async function inParallel<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** Cold starts over one window: n, p50, max (ms). */
interface ColdStarts {
  n: number;
  p50: number;
  max: number;
}

export interface EngineStep {
  /** Bare containers running beside the cold starts. */
  containers: number;
  cold_start_ms: ColdStarts;
  engine_cpu_percent: number;
}

export interface CapacityStep {
  sessions: number;
  watched: number;
  monitor_pass_ms: number;
  cold_start_ms: ColdStarts;
  /** The baseline's cold start p50 with as many bare containers (same run). */
  engine_only_cold_start_p50_ms: number;
  worker_cpu_percent: number;
  worker_rss_mib: number;
  engine_cpu_percent: number;
  temporal_cpu_percent: number;
  /** History events the stand-ins' workflows added per session and hour (none attached: ~0). */
  history_events_per_session_hour: number;
}

export interface CapacityOptions {
  steps: number[];
  windowMs: number;
  /** Starts one real session through the API and stops it; resolves with its create latency (ms). */
  coldStart: () => Promise<number>;
  log: (msg: string) => void;
}

/** CPU time over a window, as a percentage of one core. */
const cpuPercent = (micros: number, elapsedMs: number): number => Number(((micros / (elapsedMs * 1000)) * 100).toFixed(2));

const coldStartsOf = (starts: number[]): ColdStarts => {
  const sorted = [...starts].sort((a, b) => a - b);
  return { n: sorted.length, p50: Math.round(sorted[Math.ceil(sorted.length / 2) - 1]!), max: Math.round(sorted.at(-1)!) };
};

/** Cold starts for one window (at least three). */
async function coldStartWindow(opts: CapacityOptions): Promise<number[]> {
  const starts: number[] = [];
  const deadline = Date.now() + opts.windowMs;
  while (Date.now() < deadline || starts.length < 3) starts.push(await opts.coldStart());
  return starts;
}

/** The baseline: cold starts beside 0, 100, … bare containers; they are removed at the end. */
async function measureEngineOnly(image: string, opts: CapacityOptions): Promise<EngineStep[]> {
  const bare: string[] = [];
  const steps: EngineStep[] = [];
  try {
    for (const target of opts.steps) {
      const missing = Array.from({ length: target - bare.length }, () => undefined);
      opts.log(`watch capacity, engine only: ${target} bare containers (adding ${missing.length}) ...`);
      await inParallel(missing, async () => {
        bare.push((await sleepingContainer(image, {}, `hackstream-bench-bare-${randomUUID()}`)).id);
      });
      await sleep(5000);
      const before = { engine: engineMicros(), at: performance.now() };
      const starts = await coldStartWindow(opts);
      const elapsedMs = performance.now() - before.at;
      const step: EngineStep = { containers: target, cold_start_ms: coldStartsOf(starts), engine_cpu_percent: cpuPercent(engineMicros() - before.engine, elapsedMs) };
      opts.log(`watch capacity, engine only: ${JSON.stringify(step)}`);
      steps.push(step);
    }
  } finally {
    await inParallel(bare, async (id) => {
      await docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
    });
  }
  return steps;
}

export async function measureWatchCapacity(stack: TestStack, temporal: Client, userId: string, opts: CapacityOptions) {
  const config = loadWorkerConfig(stack.env);
  const image = config.apps['firefox']!.image;
  const engineOnly = await measureEngineOnly(image, opts);
  const db = await openDatabase(config.db);
  const rows = new SessionRows(db);
  const taskQueue = config.temporal.taskQueue;
  const standIns: Array<{ sessionId: string; containerId: string }> = [];
  const steps: CapacityStep[] = [];
  let stoppedBy: string | null = null;
  /** All stand-ins stopped together at the end, as a drain or a mass stop does. */
  let teardown: { sessions: number; ms: number; containers_left: number } | undefined;

  const addStandIn = async (): Promise<void> => {
    const spec: SessionSpec = testSessionSpec(image, {
      userId,
      timeouts: { idleSeconds: 6 * 3600, connectSeconds: 6 * 3600, maxDurationSeconds: 8 * 3600, readySeconds: 60, activityPollSeconds: 5 },
    });
    const name = `hackstream-standin-${spec.sessionId}`;
    const container = await sleepingContainer(image, serializeLabels({ sessionId: spec.sessionId, userId, app: 'firefox', stack: taskQueue }), name);
    const now = Date.now();
    const snapshot: SessionSnapshot = {
      sessionId: spec.sessionId,
      userId,
      app: 'firefox',
      state: 'ready',
      reason: null,
      message: null,
      url: null,
      quality: 'auto',
      container: { id: container.id, name, ip: '' },
      requestedAt: now,
      startedAt: now,
      readyAt: now,
      attachedAt: null,
      lastActivityAt: null,
      endedAt: null,
      start: 'cold',
    };
    await rows.record(snapshot);
    const carried: CarriedState = { snapshot, stopRequested: false, stopReason: 'user_stop', stopBy: null };
    await temporal.workflow.start<typeof SessionWorkflow>('SessionWorkflow', { taskQueue, workflowId: sessionWorkflowId(spec.sessionId), args: [{ spec, carried }] });
    standIns.push({ sessionId: spec.sessionId, containerId: container.id });
  };

  const historyEvents = async (): Promise<number> => {
    const sample = standIns.slice(0, 20);
    const lengths = await Promise.all(sample.map(async (s) => (await temporal.workflow.getHandle(sessionWorkflowId(s.sessionId)).describe()).historyLength));
    return lengths.reduce((a, b) => a + b, 0) / Math.max(1, sample.length);
  };

  try {
    for (const target of opts.steps) {
      const missing = Array.from({ length: target - standIns.length }, () => undefined);
      opts.log(`watch capacity: ${target} stand-in sessions (adding ${missing.length}) ...`);
      try {
        await inParallel(missing, addStandIn);
      } catch (err) {
        // A limit of the host (memory, the kernel's key quota, ...): the figures stop here.
        stoppedBy = `adding stand-in ${standIns.length + 1}: ${(err as Error).message}`;
        opts.log(`watch capacity: ${stoppedBy}`);
        break;
      }
      // Let the monitor meet every new session once (a query each), then measure a window.
      await sleep(Math.max(5000, target * 20));
      const before = {
        passSum: await scrapedValue(stack.workerMetricsUrl, 'hackstream_monitor_pass_seconds_sum'),
        passCount: await scrapedValue(stack.workerMetricsUrl, 'hackstream_monitor_pass_seconds_count'),
        own: ownMicros(),
        engine: engineMicros(),
        temporal: processesMicros(/^temporal/, false),
        events: await historyEvents(),
        at: performance.now(),
      };
      const starts = await coldStartWindow(opts);
      const elapsedMs = performance.now() - before.at;
      const cpu = (micros: number) => cpuPercent(micros, elapsedMs);
      const passSum = (await scrapedValue(stack.workerMetricsUrl, 'hackstream_monitor_pass_seconds_sum')) - before.passSum;
      const passCount = (await scrapedValue(stack.workerMetricsUrl, 'hackstream_monitor_pass_seconds_count')) - before.passCount;
      const step: CapacityStep = {
        sessions: target,
        watched: await scrapedValue(stack.workerMetricsUrl, 'hackstream_monitor_sessions{kind="watched"}'),
        monitor_pass_ms: passCount > 0 ? Math.round((passSum / passCount) * 1000) : NaN,
        cold_start_ms: coldStartsOf(starts),
        engine_only_cold_start_p50_ms: engineOnly.find((e) => e.containers === target)?.cold_start_ms.p50 ?? NaN,
        worker_cpu_percent: cpu(ownMicros() - before.own),
        worker_rss_mib: Math.round(process.memoryUsage().rss / MIB),
        engine_cpu_percent: cpu(engineMicros() - before.engine),
        temporal_cpu_percent: cpu(processesMicros(/^temporal/, false) - before.temporal),
        history_events_per_session_hour: target === 0 ? 0 : Number((((await historyEvents()) - before.events) * (3_600_000 / elapsedMs)).toFixed(1)),
      };
      opts.log(`watch capacity: ${JSON.stringify(step)}`);
      steps.push(step);
    }
  } finally {
    opts.log(`watch capacity: stopping ${standIns.length} stand-in sessions (their workflows tear them down) ...`);
    const teardownStarted = performance.now();
    await inParallel(standIns, async (s) => {
      await temporal.workflow
        .getHandle(sessionWorkflowId(s.sessionId))
        .signal(stopSignal, { reason: 'user_stop', by: userId })
        .catch(() => undefined);
    });
    await inParallel(standIns, async (s) => {
      await temporal.workflow
        .getHandle(sessionWorkflowId(s.sessionId))
        .result()
        .catch(() => undefined);
    });
    const teardownMs = Math.round(performance.now() - teardownStarted);
    // Whatever a failed teardown left.
    let left = 0;
    await inParallel(standIns, async (s) => {
      await docker
        .getContainer(s.containerId)
        .remove({ force: true })
        .then(() => left++)
        .catch(() => undefined);
    });
    teardown = { sessions: standIns.length, ms: teardownMs, containers_left: left };
    opts.log(`watch capacity: teardown ${JSON.stringify(teardown)}`);
    await db.close();
  }

  // The most sessions watched while every one was watched, a pass took less than the poll
  // interval and cold starts stayed within a quarter of the baseline's beside as many bare
  // containers (the worker's share of any slowdown, not the host's).
  const fine = steps.filter((s) => s.watched >= s.sessions && s.monitor_pass_ms < config.session.activityPollSeconds * 1000 && s.cold_start_ms.p50 <= s.engine_only_cold_start_p50_ms * 1.25);
  return { steps, engine_only: engineOnly, teardown, stopped_by: stoppedBy, max_watched_sessions: Math.max(0, ...fine.map((s) => s.sessions)), poll_seconds: config.session.activityPollSeconds, stand_in: 'session image running sleep, no network, 16 MiB; a real SessionWorkflow each (carried state: ready)' };
}

