/**
 * Prometheus metrics of the worker (prom-client), served on GET /metrics at
 * 127.0.0.1:HACKSTREAM_WORKER_METRICS_PORT: how long its activities take and how they end, the
 * sessions' ends by reason and the live sessions by state, what its sessions' clients are streamed
 * (round trip, send rate, frame rate, quality, encodings), what the reconciler removed, by kind,
 * the container starts under way and waiting their turn, the session monitor's passes (sessions
 * watched and connected, xpra reads, pass time), and the process's own figures. Loopback
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
import type { StreamMetrics, StreamSample } from '../activities/session-watcher.js';
import type { StartAdmission } from '../activities/start-admission.js';
import type { MonitorPass } from './session-monitor.js';
import { labelledCounter } from '../core/labelled-counter.js';
import type { Logger } from '../core/logger.js';
import type { SessionRows } from '../core/session-rows.js';
import { END_REASONS, LIVE_STATES, type EndReason } from '../core/session-snapshot.js';
import { RECONCILED_KINDS, type ReconciledKind } from '../workflows/messages.js';

/**
 * xpra's encodings (3.1): a window's `last_used` outside this list counts as `other`, so the
 * label stays bounded whatever a container reports.
 */
const STREAM_ENCODINGS = ['h264', 'h265', 'vp8', 'vp9', 'mpeg4', 'mpeg1', 'mpeg2', 'jpeg', 'webp', 'png', 'png/P', 'png/L', 'rgb24', 'rgb32', 'scroll', 'other'] as const;

/** From a row write to a session's whole life (a session that began before the monitor runs a watcher activity as long as it lives). */
const ACTIVITY_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 28_800];

export class WorkerMetrics implements ReconcileMetrics, StreamMetrics {
  readonly registry = new Registry();
  private readonly reconciledTotal: Counter<'kind'>;
  private readonly monitor: { sessions: Gauge<'kind'>; xpraReads: Counter; passSeconds: Histogram };
  private readonly sessionEndsTotal: Counter<'reason'>;
  private readonly activityDuration: Histogram<'activity' | 'outcome'>;
  private readonly stream: {
    roundTrip: Histogram;
    bytesPerSecond: Histogram;
    framesPerSecond: Histogram;
    quality: Histogram;
    encodings: Counter<'encoding'>;
  };

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hackstream_worker_' });
    this.activityDuration = new Histogram({
      name: 'hackstream_activity_duration_seconds',
      help: 'How long the activities this worker ran took, by activity and outcome (completed, failed: an attempt that threw, cancelled)',
      labelNames: ['activity', 'outcome'],
      buckets: ACTIVITY_BUCKETS_SECONDS,
      registers: [this.registry],
    });
    this.sessionEndsTotal = labelledCounter(this.registry, {
      name: 'hackstream_session_ends_total',
      help: 'Sessions that ended, by reason (user_stop, idle, provision_failed, workflow_lost, ...): each once, whichever worker ended it',
      label: 'reason',
      values: END_REASONS,
    });
    // Streaming quality: one observation per attached client per watcher poll, so the
    // distributions weigh each client by the time it is attached; no per-session label.
    const streamHistogram = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, buckets, registers: [this.registry] });
    this.stream = {
      roundTrip: streamHistogram('hackstream_stream_round_trip_seconds', "Round trip of xpra's pings to attached clients, per client and poll", [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]),
      bytesPerSecond: streamHistogram('hackstream_stream_send_bytes_per_second', 'What xpra sent each attached client between two polls, in bytes per second', [1e3, 1e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7]),
      framesPerSecond: streamHistogram('hackstream_stream_frames_per_second', 'Frames per second xpra sent each attached client (its windows summed), per poll', [0.5, 1, 5, 10, 15, 20, 25, 30, 45, 60]),
      quality: streamHistogram('hackstream_stream_quality', 'The picture quality (0-100) xpra chose for each attached client, per poll', [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]),
      encodings: labelledCounter(this.registry, {
        name: 'hackstream_stream_window_encodings_total',
        help: "Windows seen at a poll, by the encoding xpra last sent them in (other: any outside xpra 3.1's list)",
        label: 'encoding',
        values: STREAM_ENCODINGS,
      }),
    };
    this.monitor = {
      sessions: new Gauge({
        name: 'hackstream_monitor_sessions',
        help: "Sessions this worker's session monitor watches (watched), and of those the ones with a connection to xpra at its last pass (connected)",
        labelNames: ['kind'],
        registers: [this.registry],
      }),
      xpraReads: new Counter({ name: 'hackstream_monitor_xpra_reads_total', help: 'Times the session monitor asked a session\'s xpra for its status (only sessions with a connection)', registers: [this.registry] }),
      passSeconds: new Histogram({
        name: 'hackstream_monitor_pass_seconds',
        help: 'How long one pass of the session monitor over all its sessions took',
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [this.registry],
      }),
    };
    for (const kind of ['watched', 'connected']) this.monitor.sessions.set({ kind }, 0);
    this.reconciledTotal = labelledCounter(this.registry, {
      name: 'hackstream_reconciled_total',
      help: 'What the reconciler removed because no running workflow owned it (rows: ended), by kind',
      label: 'kind',
      values: RECONCILED_KINDS,
    });
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

  observeStream(sample: StreamSample): void {
    if (sample.roundTripSeconds !== null) this.stream.roundTrip.observe(sample.roundTripSeconds);
    if (sample.bytesPerSecond !== null) this.stream.bytesPerSecond.observe(sample.bytesPerSecond);
    this.stream.framesPerSecond.observe(sample.framesPerSecond);
    if (sample.quality !== null) this.stream.quality.observe(sample.quality);
    for (const e of sample.encodings) this.stream.encodings.inc({ encoding: (STREAM_ENCODINGS as readonly string[]).includes(e) ? e : 'other' });
  }

  monitorPass(pass: MonitorPass): void {
    this.monitor.sessions.set({ kind: 'watched' }, pass.watched);
    this.monitor.sessions.set({ kind: 'connected' }, pass.connected);
    this.monitor.xpraReads.inc(pass.xpraReads);
    this.monitor.passSeconds.observe(pass.seconds);
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
