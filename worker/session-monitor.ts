/**
 * The session monitor: one loop per worker that watches every running session of its stack on
 * this Docker host and signals a session's workflow only when something changed: a client
 * attached for the first time, the user was active (input, or screen updates while a client
 * watches), or the app's container ended.
 *
 * It replaces a watcher activity per session, which held one of the worker's activity slots for
 * the session's whole life and ran `xpra info` in every container every poll (a Python process
 * each time), attached or not. Here a pass reads the stack's containers (one Docker call) and the
 * sessions the database says run; for each, the kernel's count of its container's TCP sockets
 * tells whether anything but xpra's listeners exists, then its TCP table whether that is a
 * connection to xpra (activities/container-connections.ts), and only then is xpra asked. A
 * session nobody is connected to costs a read of a few dozen bytes per pass.
 *
 * On a Kubernetes node pool the same loop watches the session pods (worker/kube-session-host.ts):
 * a pod's sockets are not visible from the worker, so xpra is asked (by exec) at every pass.
 *
 * Sessions that began before the monitor keep their own watcher activity (the workflow's
 * `sessionWatch` query says which: `monitored`). State is in memory only; after a restart the
 * first pass learns each session's clocks from its workflow again.
 */
import type { Logger } from '../core/logger.js';
import type { ContainerRuntime, ManagedContainer } from '../activities/docker-session-runtime.js';
import { ActivityTracker, StreamSampler, type SessionEvents, type StreamMetrics } from '../activities/session-watcher.js';
import type { TcpTable } from '../activities/container-connections.js';
import type { AppExit, SessionWatch } from '../workflows/messages.js';

/** The session's workflow, as the monitor reaches it (activities/session-events.ts). */
export interface MonitoredWorkflows extends SessionEvents {
  appExited(sessionId: string, exit: AppExit): Promise<void>;
  /** Null when the workflow has ended. */
  watchInfo(sessionId: string): Promise<SessionWatch | null>;
}

/** One pass's figures (worker/metrics.ts). */
export interface MonitorPass {
  seconds: number;
  /** Sessions this worker watches. */
  watched: number;
  /** Of those, sessions with a connection to xpra (or whose connections could not be read). */
  connected: number;
  /** `xpra info` runs this pass. */
  xpraReads: number;
}

export interface SessionMonitorDeps {
  runtime: Pick<ContainerRuntime, 'listManaged' | 'inspect' | 'xpraStatus'>;
  sessions: { watchable(): Promise<Array<{ sessionId: string; containerId: string }>> };
  workflows: MonitoredWorkflows;
  /** The container's TCP sockets as seen from the host (activities/container-connections.ts); null: unknown. */
  sockets: {
    /** TCP sockets in use in the namespace of process `pid`, listening ones included. */
    inUse(pid: number): Promise<number | null>;
    /** Its TCP table: connections to xpra's ports, and the listening sockets. */
    table(pid: number): Promise<TcpTable | null>;
  };
  metrics: StreamMetrics & { monitorPass(pass: MonitorPass): void };
  logger: Logger;
  /** Seconds between the end of one pass and the start of the next. */
  pollSeconds: number;
  /** Sessions looked at in parallel within a pass (Docker and Temporal calls in flight). */
  parallelism?: number;
  now?: () => number;
}

interface Watched {
  containerId: string;
  /** False: the session runs a watcher activity of its own (it began before the monitor). */
  monitored: boolean;
  tracker: ActivityTracker;
  streams: StreamSampler;
  pid: number | null;
  /** Sockets the container listens on, from its last table read: in use beyond them means a connection. */
  listening: number | null;
  /** Its workflow has been told the app ended. */
  exitSignalled: boolean;
}

const DEFAULT_PARALLELISM = 8;
/**
 * Sessions met for the first time in one pass (a workflow query each): after a worker restart with
 * hundreds of sessions, the first passes spread the queries instead of sending them all at once.
 */
const FIRST_SIGHTS_PER_PASS = 50;

export class SessionMonitor {
  private readonly watched = new Map<string, Watched>();
  /** Sessions whose container is gone altogether, once their workflow has been told. */
  private readonly gone = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly d: SessionMonitorDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Runs a pass now and then every `pollSeconds` after each pass ends, until stop(). */
  start(): void {
    const loop = (): void => {
      if (this.stopped) return;
      this.pass = this.runPass()
        .catch((err: unknown) => {
          this.d.logger.warn('session monitor pass failed', { error: (err as Error).message });
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.d.pollSeconds * 1000);
        });
    };
    loop();
  }

  /** Stops after the pass under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  /** One look at every session; exposed for tests. */
  async runPass(): Promise<void> {
    const started = this.now();
    const [containers, rows] = await Promise.all([this.d.runtime.listManaged(), this.d.sessions.watchable()]);
    const ours = new Map(containers.map((c) => [c.id, c]));
    const live = new Set(rows.map((r) => r.sessionId));
    for (const id of this.watched.keys()) if (!live.has(id)) this.watched.delete(id);
    for (const id of this.gone) if (!live.has(id)) this.gone.delete(id);

    let connected = 0;
    let xpraReads = 0;
    const pass = { firstSights: 0 };
    const look = async (row: { sessionId: string; containerId: string }): Promise<void> => {
      const outcome = await this.look(row, ours.get(row.containerId), pass);
      if (outcome !== 'idle') connected++;
      if (outcome === 'read') xpraReads++;
    };
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < rows.length) {
        const row = rows[next++]!;
        await look(row).catch((err: unknown) => this.d.logger.warn('watching a session failed', { sessionId: row.sessionId, error: (err as Error).message }));
      }
    };
    await Promise.all(Array.from({ length: Math.min(rows.length, this.d.parallelism ?? DEFAULT_PARALLELISM) }, lane));
    const watched = [...this.watched.values()].filter((w) => w.monitored && !w.exitSignalled).length;
    this.d.metrics.monitorPass({ seconds: (this.now() - started) / 1000, watched, connected, xpraReads });
  }

  /**
   * One session: 'idle' when nothing is connected (or it is not this monitor's to watch), 'read'
   * when xpra was asked, 'unread' when it was connected but xpra did not answer.
   */
  private async look(
    row: { sessionId: string; containerId: string },
    container: ManagedContainer | undefined,
    pass: { firstSights: number },
  ): Promise<'idle' | 'read' | 'unread'> {
    const { runtime, workflows } = this.d;
    if (!container) {
      // Not among this stack's containers: gone (the app's end), or another stack's (leave it).
      if (!this.gone.has(row.sessionId) && (await runtime.inspect(row.containerId)) === null) {
        await this.appEnded(row.sessionId, { exitCode: null });
        this.gone.add(row.sessionId);
      }
      return 'idle';
    }
    let w = this.watched.get(row.sessionId);
    if (!w || w.containerId !== row.containerId) {
      if (pass.firstSights++ >= FIRST_SIGHTS_PER_PASS) return 'idle';
      const info = await workflows.watchInfo(row.sessionId);
      // Not watched by a monitor (yet: a node that lists its engine's containers sees a session
      // still provisioning; or ever: one with a watcher activity of its own): asked again later.
      if (!info?.monitored) return 'idle';
      w = {
        containerId: row.containerId,
        monitored: info.monitored,
        tracker: new ActivityTracker({ pollSeconds: this.d.pollSeconds, idleSeconds: info.idleSeconds, alreadyAttached: info.attachedAt !== null, lastActivityAt: info.lastActivityAt }),
        streams: new StreamSampler(),
        pid: null,
        listening: null,
        exitSignalled: false,
      };
      this.watched.set(row.sessionId, w);
    }
    if (!w.monitored || w.exitSignalled) return 'idle';
    if (!container.running) {
      const state = await runtime.inspect(row.containerId);
      await this.appEnded(row.sessionId, { exitCode: state?.exitCode ?? null });
      w.exitSignalled = true;
      return 'idle';
    }
    w.pid ??= (await runtime.inspect(row.containerId))?.pid ?? null;
    const connections = w.pid === null ? null : await this.connectionsTo(w, w.pid);
    const now = this.now();
    if (connections === 0) {
      w.tracker.observe(null, now);
      return 'idle';
    }
    const status = await runtime.xpraStatus(row.containerId).catch((err: unknown) => {
      this.d.logger.debug('xpra info failed', { sessionId: row.sessionId, error: (err as Error).message });
      return null;
    });
    for (const sample of w.streams.sample(status, now)) this.d.metrics.observeStream(sample);
    const report = w.tracker.observe(status, now);
    try {
      if (report.attached) await workflows.clientAttached(row.sessionId, report.attached);
      if (report.heartbeat) await workflows.activityHeartbeat(row.sessionId, report.heartbeat);
    } catch (err) {
      // The tracker counts it as told: start again from what the workflow knows at the next pass.
      this.watched.delete(row.sessionId);
      throw err;
    }
    return status ? 'read' : 'unread';
  }

  /** Connections to xpra: none while only its listeners exist, else counted in the table; null: unknown. */
  private async connectionsTo(w: Watched, pid: number): Promise<number | null> {
    const inUse = await this.d.sockets.inUse(pid);
    if (inUse !== null && w.listening !== null && inUse <= w.listening) return 0;
    const table = await this.d.sockets.table(pid);
    w.listening = table?.listening ?? null;
    return table?.established ?? null;
  }

  private async appEnded(sessionId: string, exit: AppExit): Promise<void> {
    this.d.logger.info('session app ended', { sessionId, exitCode: exit.exitCode });
    await this.d.workflows.appExited(sessionId, exit);
  }
}
