/**
 * The session watcher: an activity that runs for the life of the session's container, reads
 * xpra's view of its clients every poll, tells the workflow when a client first attaches and
 * whenever the user is active, reports what each attached client is streamed to the worker's
 * metrics, and returns when the container has ended.
 */
import { Context } from '@temporalio/activity';
import type { ClientActivity } from '../workflows/messages.js';
import type { ContainerRuntime } from './docker-session-runtime.js';
import type { XpraStatus } from './xpra-info.js';

/** Tells a session's workflow what its client is doing (activities/session-events.ts signals it). */
export interface SessionEvents {
  clientAttached(sessionId: string, activity: ClientActivity): Promise<void>;
  activityHeartbeat(sessionId: string, activity: ClientActivity): Promise<void>;
}

/** One poll's figures of what one attached client is streamed. */
export interface StreamSample {
  roundTripSeconds: number | null;
  /** Since the previous poll; null on the first poll of a connection. */
  bytesPerSecond: number | null;
  framesPerSecond: number;
  quality: number | null;
  encodings: string[];
}

/** Where the streaming figures go (worker/metrics.ts: histograms, no per-session label). */
export interface StreamMetrics {
  observeStream(sample: StreamSample): void;
}

export interface WatcherDeps {
  runtime: Pick<ContainerRuntime, 'inspect' | 'xpraStatus'>;
  events: SessionEvents;
  metrics: StreamMetrics;
}

export interface WatchInput {
  sessionId: string;
  containerId: string;
  pollSeconds: number;
  idleSeconds: number;
  alreadyAttached: boolean;
  lastActivityAt: number | null;
}

export interface WatchResult {
  exitCode: number | null;
}

/** What the workflow must be told after one observation of xpra. */
export interface ActivityReport {
  attached?: ClientActivity;
  heartbeat?: ClientActivity;
}

/**
 * Turns successive observations of xpra into the signals the workflow needs: the first attach,
 * and activity (input, or screen updates while a client watches) at most every `minSignalGapMs`.
 * Enough heartbeats for the idle timer to be precise, without flooding the workflow's history.
 */
export class ActivityTracker {
  readonly minSignalGapMs: number;
  private attached: boolean;
  private lastSignalled: number;
  private lastDamage: number | null = null;

  constructor(input: Pick<WatchInput, 'pollSeconds' | 'idleSeconds' | 'alreadyAttached' | 'lastActivityAt'>) {
    const pollMs = input.pollSeconds * 1000;
    this.minSignalGapMs = Math.max(pollMs, Math.min(60_000, (input.idleSeconds * 1000) / 5));
    this.attached = input.alreadyAttached;
    this.lastSignalled = input.lastActivityAt ?? 0;
  }

  /** One observation at `now` (null when xpra did not answer). */
  observe(status: XpraStatus | null, now: number): ActivityReport {
    if (!status || status.clients === 0) {
      this.lastDamage = null;
      return {};
    }
    const report: ActivityReport = {};
    if (!this.attached) {
      report.attached = { at: now };
      this.attached = true;
      this.lastSignalled = now;
    }
    let activeAt = status.minIdleSeconds === null ? 0 : now - status.minIdleSeconds * 1000;
    if (this.lastDamage !== null && status.damageEvents > this.lastDamage) activeAt = now;
    this.lastDamage = status.damageEvents;
    if (activeAt - this.lastSignalled >= this.minSignalGapMs) {
      report.heartbeat = { at: activeAt };
      this.lastSignalled = activeAt;
    }
    return report;
  }
}

/**
 * Turns successive observations of xpra into per-client stream samples: the send rate comes from
 * the growth of the client's byte counter between two polls (a counter that went back is a new
 * connection: no rate until its next poll).
 */
export class StreamSampler {
  private readonly sent = new Map<number, { bytes: number; at: number }>();

  sample(status: XpraStatus | null, now: number): StreamSample[] {
    if (!status) return [];
    return status.streams.map((s, client) => {
      const before = this.sent.get(client);
      let bytesPerSecond: number | null = null;
      if (s.bytesSent !== null) {
        if (before && s.bytesSent >= before.bytes && now > before.at) bytesPerSecond = ((s.bytesSent - before.bytes) * 1000) / (now - before.at);
        this.sent.set(client, { bytes: s.bytesSent, at: now });
      }
      return {
        roundTripSeconds: s.roundTripMs === null ? null : s.roundTripMs / 1000,
        bytesPerSecond,
        framesPerSecond: s.framesPerSecond,
        quality: s.quality,
        encodings: s.encodings,
      };
    });
  }
}

export function watcherActivities(deps: WatcherDeps) {
  const { runtime, events, metrics } = deps;

  /** xpra's status, or null when it does not answer (it may be busy; the next poll retries). */
  const readStatus = async (input: WatchInput): Promise<XpraStatus | null> => {
    try {
      return await runtime.xpraStatus(input.containerId);
    } catch (err) {
      Context.current().log.debug('xpra info failed', { sessionId: input.sessionId, error: (err as Error).message });
      return null;
    }
  };

  return {
    /** Runs for the life of the container (see the module's comment); heartbeats every poll. */
    async watchSession(input: WatchInput): Promise<WatchResult> {
      const ctx = Context.current();
      const tracker = new ActivityTracker(input);
      const streams = new StreamSampler();
      for (;;) {
        ctx.heartbeat();
        const state = await runtime.inspect(input.containerId);
        if (!state?.running) return { exitCode: state?.exitCode ?? null };
        const status = await readStatus(input);
        const now = Date.now();
        for (const sample of streams.sample(status, now)) metrics.observeStream(sample);
        const report = tracker.observe(status, now);
        if (report.attached) await events.clientAttached(input.sessionId, report.attached);
        if (report.heartbeat) await events.activityHeartbeat(input.sessionId, report.heartbeat);
        await ctx.sleep(input.pollSeconds * 1000);
      }
    },
  };
}
