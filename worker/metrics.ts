/**
 * Prometheus metrics of the worker (prom-client), served on GET /metrics at
 * 127.0.0.1:HACKSTREAM_WORKER_METRICS_PORT: how long its activities take and how they end, the
 * sessions' ends by reason and the live sessions by state, what the reconciler removed, by kind,
 * the container starts under way and waiting their turn, and the process's own figures. Loopback
 * only: scrape it on the worker's host.
 *
 * No label names a session or a user: every label's values come from a fixed list (activity
 * names, outcomes, end reasons, states, kinds), so the number of series stays bounded however
 * many sessions run.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context as ActivityContext } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReconcileMetrics } from '../activities/reconciler.js';
import type { StartAdmission } from '../activities/start-admission.js';
import type { Logger } from '../core/logger.js';
import type { SessionRows } from '../core/session-rows.js';
import { END_REASONS, LIVE_STATES, type EndReason } from '../core/session-snapshot.js';
import { RECONCILED_KINDS, type ReconciledKind } from '../workflows/messages.js';

/** From a row write to a session's whole life (its watcher runs as long as the session). */
const ACTIVITY_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 28_800];

export class WorkerMetrics implements ReconcileMetrics {
  readonly registry = new Registry();
  private readonly reconciledTotal: Counter<'kind'>;
  private readonly sessionEndsTotal: Counter<'reason'>;
  private readonly activityDuration: Histogram<'activity' | 'outcome'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hackstream_worker_' });
    this.activityDuration = new Histogram({
      name: 'hackstream_activity_duration_seconds',
      help: 'How long the activities this worker ran took, by activity and outcome (completed, failed: an attempt that threw, cancelled)',
      labelNames: ['activity', 'outcome'],
      buckets: ACTIVITY_BUCKETS_SECONDS,
      registers: [this.registry],
    });
    this.sessionEndsTotal = new Counter({
      name: 'hackstream_session_ends_total',
      help: 'Sessions that ended, by reason (user_stop, idle, provision_failed, workflow_lost, ...): each once, whichever worker ended it',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    for (const reason of END_REASONS) this.sessionEndsTotal.inc({ reason }, 0);
    this.reconciledTotal = new Counter({
      name: 'hackstream_reconciled_total',
      help: 'What the reconciler removed because no running workflow owned it (rows: ended), by kind',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    // Every kind from zero, so a rate over a kind never starts with a gap.
    for (const kind of RECONCILED_KINDS) this.reconciledTotal.inc({ kind }, 0);
  }

  /** Reports the starts of this admission (under way, waiting) at every scrape. */
  observeStarts(admission: StartAdmission): void {
    new Gauge({
      name: 'hackstream_worker_starts',
      help: 'Session containers this worker is starting (running) or that wait for a start slot (waiting)',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const { running, waiting } = admission.load;
        this.set({ state: 'running' }, running);
        this.set({ state: 'waiting' }, waiting);
      },
    });
  }

  /**
   * Reports the live sessions by state at every scrape, read from the database: the whole stack's,
   * the same on every worker (aggregate with max, not sum). A scrape while the database does not
   * answer keeps the last figures.
   */
  observeSessions(rows: Pick<SessionRows, 'countLive'>, logger: Logger): void {
    new Gauge({
      name: 'hackstream_sessions',
      help: "Sessions in each state that is not final (provisioning, ready, active, stopping), the whole stack's",
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        try {
          const counts = await rows.countLive();
          for (const state of LIVE_STATES) this.set({ state }, counts[state]);
        } catch (err) {
          logger.warn('counting the sessions by state failed', { error: String(err) });
        }
      },
    });
  }

  /** Shows these activities (the names the worker registers) from zero, completed and failed. */
  registerActivities(names: readonly string[]): void {
    for (const activity of names) for (const outcome of ['completed', 'failed']) this.activityDuration.zero({ activity, outcome });
  }

  /** Times every activity this worker runs (Worker.create's `interceptors.activity`). */
  readonly activityInterceptors = (ctx: ActivityContext): ActivityInterceptors => ({
    inbound: {
      execute: async (input, next) => {
        const done = this.activityDuration.startTimer({ activity: ctx.info.activityType });
        try {
          const result = await next(input);
          done({ outcome: 'completed' });
          return result;
        } catch (err) {
          done({ outcome: ctx.cancellationSignal.aborted ? 'cancelled' : 'failed' });
          throw err;
        }
      },
    },
  });

  reconciled(kind: ReconciledKind, count: number): void {
    this.reconciledTotal.inc({ kind }, count);
  }

  sessionEnded(reason: EndReason): void {
    this.sessionEndsTotal.inc({ reason });
  }

  /** Serves /metrics on 127.0.0.1; resolves with the port (0 asks for any free one). */
  serve(port: number, logger: Logger): Promise<{ port: number; close(): Promise<void> }> {
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || req.url !== '/metrics') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: 'only GET /metrics is served here' } }));
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: unknown) => {
          logger.warn('collecting the worker metrics failed', { error: String(err) });
          res.writeHead(500).end();
        },
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        resolve({
          port: (server.address() as AddressInfo).port,
          close: () => new Promise<void>((done) => server.close(() => done())),
        });
      });
    });
  }
}
