/**
 * The worker's session monitor, one pass at a time, with fakes of Docker, the database and the
 * workflows: it asks xpra only about sessions someone is connected to, signals the first attach
 * and the app's end once, leaves other stacks' containers and older sessions (their own watcher
 * activity) alone. And the connection count it relies on, read from this process's own TCP table.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { readTcpTable, socketsInUse, tcpInUse, tcpTable } from '../../activities/container-connections.js';
import type { ContainerState, ManagedContainer } from '../../activities/docker-session-runtime.js';
import type { StreamSample } from '../../activities/session-watcher.js';
import type { XpraStatus } from '../../activities/xpra-info.js';
import { createLogger } from '../../core/logger.js';
import { SessionMonitor, type MonitorPass } from '../../worker/session-monitor.js';
import type { SessionWatch } from '../../workflows/messages.js';

const T0 = 1_700_000_000_000;
const status = (clients: number, minIdleSeconds: number | null): XpraStatus => ({ clients, minIdleSeconds, damageEvents: 0, windows: [], streams: [] });

interface World {
  containers: Map<string, ContainerState & { sessionId: string; ours: boolean }>;
  rows: Array<{ sessionId: string; containerId: string }>;
  watch: Map<string, SessionWatch | null>;
  connections: Map<number, number | null>;
  xpra: Map<string, XpraStatus | null>;
  signals: string[];
  xpraReads: string[];
  /** Full TCP table reads (the costly ones), by pid. */
  tableReads: number[];
  passes: MonitorPass[];
  now: number;
}

function world(): { w: World; monitor: SessionMonitor; failNextSignal: () => void } {
  let failing = false;
  const signal = (text: string) => {
    if (failing) {
      failing = false;
      throw new Error('Temporal did not answer');
    }
    w.signals.push(text);
  };
  const established = (pid: number): number | null => (w.connections.has(pid) ? w.connections.get(pid)! : 0);
  const w: World = { containers: new Map(), rows: [], watch: new Map(), connections: new Map(), xpra: new Map(), signals: [], xpraReads: [], tableReads: [], passes: [], now: T0 };
  const monitor = new SessionMonitor({
    runtime: {
      async listManaged(): Promise<ManagedContainer[]> {
        return [...w.containers.values()].filter((c) => c.ours).map((c) => ({ id: c.id, sessionId: c.sessionId, running: c.running, createdAt: T0 }));
      },
      async inspect(id) {
        const c = w.containers.get(id);
        return c ? { id: c.id, running: c.running, exitCode: c.exitCode, imageId: c.imageId, pid: c.pid } : null;
      },
      async xpraStatus(id) {
        w.xpraReads.push(id);
        const s = w.xpra.get(id);
        if (!s) throw new Error('xpra did not answer');
        return s;
      },
    },
    sessions: { watchable: async () => w.rows },
    workflows: {
      clientAttached: async (id, a) => signal(`attached:${id}@${a.at - T0}`),
      activityHeartbeat: async (id, a) => signal(`active:${id}@${a.at - T0}`),
      appExited: async (id, e) => void w.signals.push(`exited:${id}:${e.exitCode}`),
      watchInfo: async (id) => w.watch.get(id) ?? null,
    },
    // Every container listens on xpra's two ports; `connections`: established ones (null: unreadable).
    sockets: {
      inUse: async (pid) => {
        const n = established(pid);
        return n === null ? null : 2 + n;
      },
      table: async (pid) => {
        w.tableReads.push(pid);
        const n = established(pid);
        return n === null ? null : { established: n, listening: 2 };
      },
    },
    metrics: { observeStream: (_: StreamSample) => {}, monitorPass: (p) => void w.passes.push(p) },
    logger: createLogger({ level: 'error', service: 'monitor-test', json: false }),
    pollSeconds: 5,
    now: () => w.now,
  });
  return { w, monitor, failNextSignal: () => (failing = true) };
}

function session(w: World, n: number, opts: { ours?: boolean; monitored?: boolean; pid?: number } = {}): string {
  const id = `s-${n}`;
  const containerId = `c-${n}`;
  w.containers.set(containerId, { id: containerId, sessionId: id, running: true, exitCode: null, imageId: 'sha256:i', pid: opts.pid ?? 1000 + n, ours: opts.ours ?? true });
  w.rows.push({ sessionId: id, containerId });
  w.watch.set(id, { monitored: opts.monitored ?? true, idleSeconds: 250, attachedAt: null, lastActivityAt: null });
  return id;
}

describe('SessionMonitor', () => {
  it('leaves xpra alone while nobody is connected, then reports the first attach once and activity after that', async () => {
    const { w, monitor } = world();
    session(w, 1);
    for (let i = 0; i < 3; i++) {
      await monitor.runPass();
      w.now += 5000;
    }
    expect(w.xpraReads).toEqual([]);
    expect(w.signals).toEqual([]);
    expect(w.passes.at(-1)).toMatchObject({ watched: 1, connected: 0, xpraReads: 0 });
    // The table once, to learn the listeners; after that the count of sockets in use suffices.
    expect(w.tableReads).toEqual([1001]);

    // A client connects (the websocket through the ingress): now xpra is asked.
    w.connections.set(1001, 1);
    w.xpra.set('c-1', status(1, 0));
    await monitor.runPass();
    expect(w.signals).toEqual(['attached:s-1@15000']);
    // Input a second before each pass: a heartbeat once the gap (a fifth of 250 s) has passed.
    w.xpra.set('c-1', status(1, 1));
    for (let i = 0; i < 12; i++) {
      w.now += 5000;
      await monitor.runPass();
    }
    expect(w.signals).toEqual(['attached:s-1@15000', 'active:s-1@69000']);
    expect(w.xpraReads).toHaveLength(13);
    expect(w.passes.at(-1)).toMatchObject({ watched: 1, connected: 1, xpraReads: 1 });
  });

  it('tells the attach again at the next pass when the signal did not get through', async () => {
    const { w, monitor, failNextSignal } = world();
    session(w, 1);
    w.connections.set(1001, 1);
    w.xpra.set('c-1', status(1, 0));
    failNextSignal();
    await monitor.runPass();
    expect(w.signals).toEqual([]);
    w.now += 5000;
    await monitor.runPass();
    expect(w.signals).toEqual(['attached:s-1@5000']);
  });

  it("asks xpra when the container's connections cannot be read", async () => {
    const { w, monitor } = world();
    session(w, 1);
    w.connections.set(1001, null);
    w.xpra.set('c-1', status(0, null));
    await monitor.runPass();
    expect(w.xpraReads).toEqual(['c-1']);
    expect(w.signals).toEqual([]);
  });

  it('tells the workflow once when its container exits, with the exit code', async () => {
    const { w, monitor } = world();
    session(w, 1);
    await monitor.runPass();
    w.containers.get('c-1')!.running = false;
    w.containers.get('c-1')!.exitCode = 3;
    await monitor.runPass();
    await monitor.runPass();
    expect(w.signals).toEqual(['exited:s-1:3']);
  });

  it('tells the workflow once when its container is gone altogether, without an exit code', async () => {
    const { w, monitor } = world();
    session(w, 1);
    w.containers.delete('c-1');
    await monitor.runPass();
    await monitor.runPass();
    expect(w.signals).toEqual(['exited:s-1:null']);
  });

  it("leaves another stack's running container alone, and sessions that run a watcher activity of their own", async () => {
    const { w, monitor } = world();
    session(w, 1, { ours: false });
    session(w, 2, { monitored: false });
    w.connections.set(1001, 1);
    w.connections.set(1002, 1);
    await monitor.runPass();
    w.containers.get('c-2')!.running = false;
    await monitor.runPass();
    expect(w.signals).toEqual([]);
    expect(w.xpraReads).toEqual([]);
    expect(w.passes.at(-1)).toMatchObject({ watched: 0 });
  });

  it('asks again about a session its workflow does not have watched yet (seen while it provisions), and watches it once it is', async () => {
    const { w, monitor } = world();
    const id = session(w, 1, { monitored: false });
    w.connections.set(1001, 1);
    w.xpra.set('c-1', status(1, 0));
    await monitor.runPass();
    expect(w.signals).toEqual([]);
    // Ready now: the workflow has the monitor watch it.
    w.watch.set(id, { monitored: true, idleSeconds: 250, attachedAt: null, lastActivityAt: null });
    w.now += 5000;
    await monitor.runPass();
    expect(w.signals).toEqual(['attached:s-1@5000']);
  });

  it('learns the clocks of a session it sees for the first time from its workflow (after a worker restart)', async () => {
    const { w, monitor } = world();
    const id = session(w, 1);
    w.watch.set(id, { monitored: true, idleSeconds: 250, attachedAt: T0 - 60_000, lastActivityAt: T0 - 2000 });
    w.connections.set(1001, 1);
    w.xpra.set('c-1', status(1, 2));
    await monitor.runPass();
    // Already attached, and the activity it sees is the one the workflow knows: nothing to say.
    expect(w.signals).toEqual([]);
  });

  it('forgets a session whose row is no longer live, and skips one whose workflow has ended', async () => {
    const { w, monitor } = world();
    session(w, 1);
    const ended = session(w, 2);
    w.watch.set(ended, null);
    await monitor.runPass();
    expect(w.passes.at(-1)).toMatchObject({ watched: 1 });
    w.rows = [];
    await monitor.runPass();
    expect(w.passes.at(-1)).toMatchObject({ watched: 0 });
  });
});

describe("a container's connections, from its TCP tables", () => {
  it('counts the established connections to the given ports, and the listening sockets', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:38A4 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1', // listening
      '   1: 0A0D0002:38A4 0A0D0001:C350 01 00000000:00000000 00:00000000 00000000  1000        0 2 1', // 14500, established
      '   2: 0A0D0002:38A5 0A0D0001:C351 01 00000000:00000000 00:00000000 00000000  1000        0 3 1', // 14501, established
      '   3: 0A0D0002:38A4 0A0D0001:C352 06 00000000:00000000 00:00000000 00000000  1000        0 4 1', // TIME_WAIT
      '   4: 0A0D0002:9C40 0A0D0001:38A4 01 00000000:00000000 00:00000000 00000000  1000        0 5 1', // remote 14500
    ].join('\n');
    expect(readTcpTable(table, [14500, 14501])).toEqual({ established: 2, listening: 1 });
    expect(readTcpTable(table, [14500])).toEqual({ established: 1, listening: 1 });
    expect(tcpInUse('sockets: used 40\nTCP: inuse 3 orphan 0 tw 0 alloc 4 mem 25\nUDP: inuse 0 mem 0\n')).toBe(3);
    expect(tcpInUse('TCP6: inuse 1\nUDP6: inuse 0\n')).toBe(1);
  });

  it("reads a live process's namespace: a connection accepted on a port counts, and stops counting once closed", async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      // Other processes of this namespace open and close sockets meanwhile: only that it reads a count.
      expect(await socketsInUse(process.pid)).toBeGreaterThanOrEqual(1);
      expect((await tcpTable(process.pid, [port]))?.established).toBe(0);
      const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
      const client = net.connect(port, '127.0.0.1');
      const socket = await accepted;
      expect((await tcpTable(process.pid, [port]))?.established).toBe(1);
      client.destroy();
      socket.destroy();
      await new Promise((r) => setTimeout(r, 100));
      expect((await tcpTable(process.pid, [port]))?.established).toBe(0);
      expect(await socketsInUse(2 ** 22 + 1)).toBeNull();
      expect(await tcpTable(2 ** 22 + 1, [port])).toBeNull();
    } finally {
      server.close();
    }
  });
});
