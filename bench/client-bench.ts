/**
 * The `client` part of the session benchmark (`npm run bench -- --only client`): what the native
 * client costs on the device, on Debian's Node 18 and Debian's xpra 3.1 (test/support/client-node18.ts).
 * Figures, not pass/fail:
 *
 * - per preset (low, auto) while the benchmark page scrolls 10 s at 600 px/s on a 1280×720 Xvfb
 *   display: the client's resident memory (peak and average, per process: the python xpra
 *   client, the node `hackstream` supervisor, the rest), its CPU (per process from /proc ticks,
 *   and the container's total and throttling from its cgroup), the Mbit/s it received (bytes the
 *   TCP relay in front of the ingress passed to it), the frames it showed (X DAMAGE on the
 *   display) and the draw packets the server sent it (`xpra info` in the session) — on a device
 *   confined to a Raspberry Pi Zero 2 class budget (`--cpus 0.5 --memory 512m`), and unconfined
 *   as the baseline;
 * - `hackstream list` wall time inside a running client container (no docker start-up counted),
 *   with what it is made of: node's start-up, loading the bundle, one HTTPS round trip; both
 *   unconfined and at `--cpus 0.5`.
 */
import { percentile } from '../core/percentile.js';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { XPRA_INFO_COMMAND } from '../activities/xpra-info.js';
import { parseXpraInfo } from '../activities/xpra-info.js';
import { startApiOn, type ApiUnderTest } from '../test/support/api-under-test.js';
import { CLIENT_BUNDLE } from '../test/support/client-bundle.js';
import { Device, type RunningClient } from '../test/support/client-node18.js';
import { docker, execIn, sessionContainers } from '../test/support/docker.js';
import { startTcpRelay, type TcpRelay } from '../test/support/tcp-relay.js';
import type { TestStack } from '../test/support/test-stack.js';
import { Display } from '../test/support/xvfb.js';

/** A Raspberry Pi Zero 2 class budget: one slow core (here half of one of this host's) and 512 MB. */
const BUDGET = ['--cpus', '0.5', '--memory', '512m'];
const SCROLL_S = 10;
const SPEED = 600;
/** From launching until the page starts scrolling: a cold session plus the client's start at 0.5 CPU fit in it. */
const LEAD_MS = 25_000;
const SAMPLE_MS = 250;
const LIST_RUNS = 10;
/** X DAMAGE notifications closer than this (X server ms) are one frame the client drew in several requests. */
const FRAME_MERGE_MS = 3;
const POLICIES = JSON.stringify({ user: { maxSessions: 10 } });
const PRESETS = ['low', 'auto'] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => console.log(`[bench] ${msg}`);
const r1 = (x: number) => Number(x.toFixed(1));
const r2 = (x: number) => Number(x.toFixed(2));
const MiB = 2 ** 20;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const PAGE_SIZE = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;
// Never a synchronous child process while measuring: the TCP relay runs on this event loop.
const run = promisify(execFile);

// ---------------------------------------------------------------- the device's display

/**
 * Counts what is drawn on an X display: a DAMAGE object on the root window (report level
 * NonEmpty, subtracted after each notification), through ctypes and the host's libXdamage (no
 * Python X library needed). One line per notification: wall clock ms, X server ms.
 */
const DAMAGE_SCRIPT = `
import ctypes, struct, sys, time
x11 = ctypes.CDLL('libX11.so.6'); xd = ctypes.CDLL('libXdamage.so.1')
x11.XOpenDisplay.restype = ctypes.c_void_p; x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
x11.XDefaultRootWindow.restype = ctypes.c_ulong; x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
x11.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
xd.XDamageQueryExtension.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
xd.XDamageCreate.restype = ctypes.c_ulong; xd.XDamageCreate.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int]
xd.XDamageSubtract.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
dpy = x11.XOpenDisplay(sys.argv[1].encode())
if not dpy: sys.exit('cannot open display ' + sys.argv[1])
base, err = ctypes.c_int(), ctypes.c_int()
if not xd.XDamageQueryExtension(dpy, ctypes.byref(base), ctypes.byref(err)): sys.exit('no DAMAGE extension')
damage = xd.XDamageCreate(dpy, x11.XDefaultRootWindow(dpy), 3)
ev = ctypes.create_string_buffer(192)
print('ready', flush=True)
while True:
    x11.XNextEvent(dpy, ev)
    if struct.unpack_from('i', ev.raw, 0)[0] != base.value: continue
    # XDamageNotifyEvent (LP64): timestamp at byte 56
    print('%.1f %d' % (time.time() * 1000, struct.unpack_from('L', ev.raw, 56)[0]), flush=True)
    xd.XDamageSubtract(dpy, damage, 0, 0)
`;

interface DamageMonitor {
  /** Frames drawn between two wall-clock times (ms): notifications, and bursts merged into frames. */
  between(from: number, to: number): { notifications: number; frames: number };
  stop(): void;
}

async function watchDamage(display: Display): Promise<DamageMonitor> {
  const child = spawn('/usr/bin/python3', ['-c', DAMAGE_SCRIPT, display.name], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const events: Array<[number, number]> = [];
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'ready') return resolve();
      const [wall, x] = line.split(' ').map(Number);
      events.push([wall!, x!]);
    });
    child.once('exit', (code) => reject(new Error(`the X damage monitor exited (${code}): ${stderr}`)));
  });
  return {
    between(from, to) {
      const inside = events.filter(([wall]) => wall >= from && wall < to);
      let frames = 0;
      let last = -Infinity;
      for (const [, x] of inside) {
        if (x - last > FRAME_MERGE_MS) frames++;
        last = x;
      }
      return { notifications: inside.length, frames };
    },
    stop: () => void child.kill('SIGTERM'),
  };
}

// ---------------------------------------------------------------- the device's processes

type Role = 'xpra' | 'node' | 'other';

/** The client container's processes as host pids (`docker top`), by role. */
async function clientProcesses(container: string): Promise<Array<{ pid: number; role: Role; args: string }>> {
  const { stdout } = await run('docker', ['top', container, '-eo', 'pid,args'], { encoding: 'utf8' });
  return stdout
    .split('\n')
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => {
      const [pid, ...rest] = l.trim().split(/\s+/);
      const args = rest.join(' ');
      const role: Role = /\bxpra attach\b/.test(args) ? 'xpra' : /^node\b.*hackstream/.test(args) ? 'node' : 'other';
      return { pid: Number(pid), role, args };
    });
}

/** CPU ticks (user + system, all threads), start time (ticks after boot) and resident bytes of a host pid; undefined once it is gone. */
function procStat(pid: number): { ticks: number; startTicks: number; rss: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return { ticks: Number(f[11]) + Number(f[12]), startTicks: Number(f[19]), rss: Number(f[21]) * PAGE_SIZE };
  } catch {
    return undefined;
  }
}

/** The container's cgroup as Docker reports it: CPU time (µs), CFS throttling, memory (cgroup v1 or v2). */
async function cgroupStats(container: string) {
  const s = (await docker.getContainer(container).stats({ stream: false, 'one-shot': true } as { stream: false })) as unknown as {
    cpu_stats: { cpu_usage: { total_usage: number }; throttling_data?: { periods: number; throttled_periods: number } };
    memory_stats: { usage?: number; max_usage?: number; limit?: number; stats?: Record<string, number> };
  };
  const st = s.memory_stats.stats ?? {};
  const inactive = st['inactive_file'] ?? st['total_inactive_file'] ?? 0;
  return {
    at: performance.now(),
    cpuMicros: s.cpu_stats.cpu_usage.total_usage / 1000,
    periods: s.cpu_stats.throttling_data?.periods ?? 0,
    throttled: s.cpu_stats.throttling_data?.throttled_periods ?? 0,
    usedMiB: ((s.memory_stats.usage ?? 0) - inactive) / MiB,
    maxUsageMiB: s.memory_stats.max_usage === undefined ? null : s.memory_stats.max_usage / MiB,
    limitMiB: s.memory_stats.limit === undefined ? null : s.memory_stats.limit / MiB,
  };
}

/** Counters the session's xpra server keeps for its client: draw packets sent, frames per encoding, its bandwidth limit. */
async function serverCounters(containerId: string): Promise<{ packets: number; frames: Map<string, number>; bandwidthLimit: { setting: number; actual: number } }> {
  const { exitCode, output } = await execIn(containerId, XPRA_INFO_COMMAND);
  if (exitCode !== 0) throw new Error(`xpra info exited with ${exitCode}: ${output.slice(-300)}`);
  let packets = 0;
  const frames = new Map<string, number>();
  const limit = { setting: 0, actual: 0 };
  for (const [key, value] of parseXpraInfo(output)) {
    const bw = /^client\.(?:\d+\.)?bandwidth-limit\.(setting|actual)$/.exec(key);
    if (bw) limit[bw[1] as 'setting' | 'actual'] = r2(Number(value) / 1e6);
    if (/^client\.(?:\d+\.)?damage\.packets_sent$/.test(key)) packets += Number(value) || 0;
    const f = /^client\.(?:\d+\.)?window\.\d+\.total_frames\.(.+)$/.exec(key);
    if (f) frames.set(f[1]!, (frames.get(f[1]!) ?? 0) + (Number(value) || 0));
  }
  return { packets, frames, bandwidthLimit: limit };
}

async function until(what: string, check: () => boolean, deadline: number): Promise<void> {
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------- 1. scrolling

interface ScrollRun {
  device: string;
  quality: string;
  launch_to_attached_ms: number;
  /** The server's cold start: the session's created_at → ready_at. */
  session_create_to_ready_ms: number;
  xpra_start_to_attached_ms: number;
  mbit_per_s: number;
  frames_shown_per_s: number;
  damage_notifications_per_s: number;
  server_draws_per_s: number;
  server_frames_by_encoding: string;
  /** `xpra info`'s bandwidth-limit of the client: the setting and the soft limit in force (Mbit/s, 0: none). */
  server_bandwidth_limit_mbit: { setting: number; actual: number };
  cpu_cores: { xpra: number; node: number; other: number; container: number };
  throttled_periods_pct: number | null;
  rss_mib: Record<Role | 'total', { peak: number; avg: number }>;
  container_memory_mib: { used_at_end: number; max_usage: number | null; limit: number | null };
}

async function scrollRun(
  t: ApiUnderTest,
  token: string,
  device: Device,
  label: string,
  quality: string,
  scrollUrl: string,
  relay: TcpRelay,
  damage: DamageMonitor,
): Promise<ScrollRun> {
  const scrollAt = Date.now() + LEAD_MS;
  const url = `${scrollUrl}?scroll_at=${scrollAt}&seconds=${SCROLL_S}&speed=${SPEED}`;
  const t0 = performance.now();
  const client: RunningClient = device.start(['launch', 'browser', '--url', url, '--quality', quality]);
  let sessionId: string | undefined;
  try {
    let exited = false;
    void client.exited.then(() => (exited = true));
    await until(`the client attached (${label} ${quality})\n${client.output()}`, () => exited || /attached to session/.test(client.output()), scrollAt - 3000);
    if (exited) throw new Error(`the client exited before attaching:\n${client.output()}`);
    const attachedMs = performance.now() - t0;
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    sessionId = /attached to session ([0-9a-f-]{36})/.exec(client.output())?.[1];
    const [session] = await sessionContainers(sessionId!);
    if (!session) throw new Error(`no container for session ${sessionId}`);
    const procs = await clientProcesses(client.name);
    const xpraStart = procs.find((p) => p.role === 'xpra');
    const xpraAge = xpraStart ? uptime - (procStat(xpraStart.pid)?.startTicks ?? NaN) / CLK_TCK : NaN;
    const view = (await t.call('GET', `/v1/sessions/${sessionId}`, { token })).body as { created_at?: string; ready_at?: string };
    const readyMs = Date.parse(view.ready_at ?? '') - Date.parse(view.created_at ?? '');

    await sleep(scrollAt - 2500 - Date.now());
    const server0 = await serverCounters(session.Id);
    if (Date.now() > scrollAt - 100) throw new Error('xpra info took too long to finish before the scroll window');
    await sleep(scrollAt - Date.now());

    const wall0 = Date.now();
    const bytes0 = relay.bytesToClient();
    const ticks0 = procs.map((p) => procStat(p.pid)?.ticks ?? 0);
    const p0 = performance.now();
    const cg0 = await cgroupStats(client.name);
    const rss = new Map<Role | 'total', number[]>();
    const end = scrollAt + SCROLL_S * 1000;
    while (Date.now() < end) {
      const by = new Map<Role | 'total', number>();
      for (const p of procs) {
        const r = procStat(p.pid)?.rss ?? 0;
        by.set(p.role, (by.get(p.role) ?? 0) + r);
        by.set('total', (by.get('total') ?? 0) + r);
      }
      for (const [k, v] of by) rss.set(k, [...(rss.get(k) ?? []), v / MiB]);
      await sleep(Math.min(SAMPLE_MS, Math.max(0, end - Date.now())));
    }
    const cg1 = await cgroupStats(client.name);
    const p1 = performance.now();
    const ticks1 = procs.map((p) => procStat(p.pid)?.ticks ?? 0);
    const bytes1 = relay.bytesToClient();
    const wall1 = Date.now();
    const server1 = await serverCounters(session.Id);

    const seconds = (p1 - p0) / 1000;
    const cores: Record<Role, number> = { xpra: 0, node: 0, other: 0 };
    procs.forEach((p, i) => (cores[p.role] += (ticks1[i]! - ticks0[i]!) / CLK_TCK / seconds));
    const drawn = damage.between(wall0, wall1);
    const frames = [...server1.frames]
      .map(([enc, n]) => [enc, n - (server0.frames.get(enc) ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([enc, n]) => `${enc} ${n}`)
      .join(', ');
    const series = (k: Role | 'total') => {
      const xs = rss.get(k) ?? [0];
      return { peak: r1(Math.max(...xs)), avg: r1(xs.reduce((a, b) => a + b, 0) / xs.length) };
    };
    return {
      device: label,
      quality,
      launch_to_attached_ms: Math.round(attachedMs),
      session_create_to_ready_ms: Math.round(readyMs),
      xpra_start_to_attached_ms: Math.round(xpraAge * 1000),
      mbit_per_s: r2(((bytes1 - bytes0) * 8) / ((wall1 - wall0) / 1000) / 1e6),
      frames_shown_per_s: r1(drawn.frames / ((wall1 - wall0) / 1000)),
      damage_notifications_per_s: r1(drawn.notifications / ((wall1 - wall0) / 1000)),
      server_draws_per_s: r1((server1.packets - server0.packets) / SCROLL_S),
      server_frames_by_encoding: frames || 'none',
      server_bandwidth_limit_mbit: server1.bandwidthLimit,
      cpu_cores: {
        xpra: r2(cores.xpra),
        node: r2(cores.node),
        other: r2(cores.other),
        container: r2((cg1.cpuMicros - cg0.cpuMicros) / 1e6 / ((cg1.at - cg0.at) / 1000)),
      },
      throttled_periods_pct: cg1.periods > cg0.periods ? Math.round((100 * (cg1.throttled - cg0.throttled)) / (cg1.periods - cg0.periods)) : null,
      rss_mib: { xpra: series('xpra'), node: series('node'), other: series('other'), total: series('total') },
      container_memory_mib: { used_at_end: r1(cg1.usedMiB), max_usage: cg1.maxUsageMiB === null ? null : r1(cg1.maxUsageMiB), limit: cg1.limitMiB === null ? null : Math.round(cg1.limitMiB) },
    };
  } finally {
    await client.stop();
    // A client that never attached may still have created a session: stop every live one of this user.
    const live = sessionId
      ? [sessionId]
      : (((await t.call('GET', '/v1/sessions', { token })).body as { sessions?: Array<{ session_id: string; state: string }> }).sessions ?? [])
          .filter((s) => !['stopped', 'failed'].includes(s.state))
          .map((s) => s.session_id);
    for (const id of live) await t.call('POST', `/v1/sessions/${id}/stop`, { token });
  }
}

// ---------------------------------------------------------------- 2. hackstream list

/**
 * GET /health twice, each on a new connection, timed inside a fresh process (µs): loading https,
 * the TLS context with the CA, lookup + connect, handshake, response; then the whole first
 * request (from `require`) and the second one (modules and context ready).
 */
const HTTPS_RTT_JS = `
const now = () => Number(process.hrtime.bigint() / 1000n);
const t0 = now();
const https = require('https');
const tls = require('tls');
const ca = require('fs').readFileSync('/ca.pem');
const t1 = now();
const secureContext = tls.createSecureContext({ ca });
const t2 = now();
const get = () => new Promise((resolve, reject) => {
  const m = { start: now() };
  https.get({ host: 'localhost', port: Number(process.argv[2]), path: '/health', secureContext, agent: false }, (res) => {
    res.resume();
    res.on('end', () => resolve(Object.assign(m, { end: now() })));
  }).on('socket', (s) => {
    s.once('connect', () => (m.connect = now()));
    s.once('secureConnect', () => (m.tls = now()));
  }).on('error', reject);
});
(async () => {
  const a = await get();
  const b = await get();
  console.log([t1 - t0, t2 - t1, a.connect - a.start, a.tls - a.connect, a.end - a.tls, a.end - t0, b.end - b.start].join(' '));
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

/** Preloaded into `hackstream list`: node's bootstrap, the event loop's start (the bundle loaded), and the exit (µs since the process started). */
const LIST_TIMING_CJS = `
process.on('exit', () => {
  const t = performance.nodeTiming;
  const us = (ms) => Math.round(ms * 1000);
  require('fs').appendFileSync('/home/user/list-timing.log', us(t.bootstrapComplete) + ' ' + us(t.loopStart) + ' ' + us(performance.now()) + '\\n');
});
`;

/** Times each step N times, interleaved (µs; wall times from `date +%s%N` around each). */
const LIST_SH = `
n=$1; port=$2
us() { echo $(( ($(date +%s%N) - $1) / 1000 )); }
for i in $(seq "$n"); do
  s=$(date +%s%N); :; echo "empty $(us $s)"
  s=$(date +%s%N); node -e 0; echo "node $(us $s)"
  set -- $(node /home/user/https-rtt.js "$port")
  echo "https_modules $1"; echo "https_context $2"; echo "https_connect $3"; echo "https_tls $4"; echo "https_response $5"; echo "https_first $6"; echo "https_second $7"
  s=$(date +%s%N); NODE_OPTIONS="--require /home/user/list-timing.cjs" node /usr/local/bin/hackstream list >/dev/null || echo "list failed" >&2; w=$(us $s)
  set -- $(tail -n 1 /home/user/list-timing.log)
  echo "list $w"; echo "list_boot $1"; echo "list_bundle $(( $2 - $1 ))"; echo "list_run $(( $3 - $2 ))"; echo "list_outside $(( w - $3 ))"
done
`;

type ListStep =
  | 'empty'
  | 'node'
  | 'list'
  | 'list_boot'
  | 'list_bundle'
  | 'list_run'
  | 'list_outside'
  | 'https_first'
  | 'https_modules'
  | 'https_context'
  | 'https_connect'
  | 'https_tls'
  | 'https_response'
  | 'https_second';
/** The bundle's size is read when the table is written, not at import: other parts of the bench run without the bundle. */
const stepName = (step: ListStep, label: string): string =>
  step === 'list_bundle' ? `${label} (${Math.round(statSync(CLIENT_BUNDLE).size / 1024)} KiB)` : label;
const LIST_STEPS: Array<[ListStep, string]> = [
  ['empty', 'the shell timing itself (`date` around nothing)'],
  ['node', '`node -e 0`'],
  ['list', '`hackstream list`'],
  ['list_boot', "  node's own bootstrap (`performance.nodeTiming`)"],
  ['list_bundle', "  loading and running the bundle's top level"],
  ['list_run', '  the command: config and token files, HTTPS GET /v1/sessions, printing'],
  ['list_outside', "  outside node's clock: exec, linking, exit"],
  ['https_first', "a fresh node's first HTTPS GET /health, from `require('https')` to the response (in-process)"],
  ['https_modules', '  loading https and tls, reading the CA file'],
  ['https_context', "  the first TLS context with the CA (initialising Debian's shared OpenSSL 3.0)"],
  ['https_connect', '  lookup of localhost + TCP connect'],
  ['https_tls', '  TLS handshake'],
  ['https_response', '  request → response'],
  ['https_second', 'the same process again: one HTTPS round trip (new connection and handshake)'],
];

const pct = percentile;

async function listTimes(device: Device, port: number): Promise<Record<ListStep, { p50: number; p95: number }>> {
  writeFileSync(path.join(device.home, 'https-rtt.js'), HTTPS_RTT_JS);
  writeFileSync(path.join(device.home, 'list-timing.cjs'), LIST_TIMING_CJS);
  writeFileSync(path.join(device.home, 'list-bench.sh'), LIST_SH);
  const idle = device.start([], { command: ['sleep', 'infinity'] });
  try {
    for (let i = 0; ; i++) {
      const running = await run('docker', ['inspect', '-f', '{{.State.Running}}', idle.name], { encoding: 'utf8' }).then((r) => r.stdout.trim() === 'true', () => false);
      if (running) break;
      if (i > 300) throw new Error(`the client container did not start:\n${idle.output()}`);
      await sleep(100);
    }
    const { stdout, stderr } = await run('docker', ['exec', idle.name, 'sh', '/home/user/list-bench.sh', String(LIST_RUNS), String(port)], { encoding: 'utf8', timeout: 180_000 });
    if (stderr.trim()) log(`hackstream list: ${stderr.trim()}`);
    const by = new Map<string, number[]>();
    for (const line of stdout.split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v !== undefined) by.set(k, [...(by.get(k) ?? []), Number(v) / 1000]);
    }
    return Object.fromEntries(LIST_STEPS.map(([k]) => [k, { p50: r1(pct(by.get(k) ?? [], 50)), p95: r1(pct(by.get(k) ?? [], 95)) }])) as Record<ListStep, { p50: number; p95: number }>;
  } finally {
    await run('docker', ['rm', '-f', idle.name]).catch(() => undefined);
    await idle.exited;
  }
}

// ---------------------------------------------------------------- the part

const range = (xs: number[]) => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
};

/** One "what dominates" line per figure of the scrolling table. */
function scrollNotes(runs: ScrollRun[]): string[] {
  if (!runs.length) return [];
  const find = (d: string, q: string) => runs.find((r) => r.device === d && r.quality === q);
  const pairs = PRESETS.map((q) => [q, find('Pi budget', q), find('unconfined', q)] as const).filter((p): p is readonly [(typeof PRESETS)[number], ScrollRun, ScrollRun] => Boolean(p[1] && p[2]));
  const pis = runs.filter((r) => r.device === 'Pi budget');
  const notes = [
    `- what dominates memory: the python xpra client, ${range(runs.map((r) => r.rss_mib.xpra.peak))} MiB of ${range(runs.map((r) => r.rss_mib.total.peak))} MiB peak RSS; ` +
      `the node supervisor ${range(runs.map((r) => r.rss_mib.node.peak))} MiB, xpra's signal listener ${range(runs.map((r) => r.rss_mib.other.peak))} MiB` +
      (pis.length ? `; at the Pi budget at most ${Math.max(...pis.map((r) => r.rss_mib.total.peak))} of 512 MiB.` : '.'),
    `- what dominates CPU: the xpra client, ${range(runs.map((r) => r.cpu_cores.xpra))} cores (container ${range(runs.map((r) => r.cpu_cores.container))}); the node supervisor ${range(runs.map((r) => r.cpu_cores.node))}` +
      (pis.length ? `; at the cap throttled in ${range(pis.map((r) => r.throttled_periods_pct ?? 0))} % of CFS periods.` : '.'),
    `- what dominates Mbit/s: the server's choice of encodings (frames sent while scrolling: ${runs
      .filter((r) => r.device === 'unconfined' || !find('unconfined', r.quality))
      .map((r) => `${r.quality}: ${r.server_frames_by_encoding}`)
      .join('; ')})` +
      (runs.some((r) => r.server_bandwidth_limit_mbit.setting > 0 && r.server_bandwidth_limit_mbit.actual === 0 && r.mbit_per_s > r.server_bandwidth_limit_mbit.setting)
        ? `; the server's bandwidth limit is not in force: ${runs
            .filter((r) => r.server_bandwidth_limit_mbit.setting > 0)
            .map((r) => `${r.device}, ${r.quality}: setting ${r.server_bandwidth_limit_mbit.setting} Mbit/s, in force ${r.server_bandwidth_limit_mbit.actual || 'none'}`)
            .join('; ')} (xpra 3.1 with bandwidth detection on, the native client's default: until it sees congestion its soft limit is min(setting, 0) = none).`
        : '.'),
  ];
  for (const [q, pi, free] of pairs) {
    const fpsLoss = free.frames_shown_per_s ? 1 - pi.frames_shown_per_s / free.frames_shown_per_s : 0;
    const bound = (pi.throttled_periods_pct ?? 0) >= 50;
    notes.push(
      `- what dominates frames/s, ${q}: ${
        fpsLoss <= 0.1 && !bound
          ? `the server's pace, not the client: ${free.frames_shown_per_s}/s unconfined, ${pi.frames_shown_per_s}/s at the cap (throttled in ${pi.throttled_periods_pct ?? 0} % of periods), for ${free.server_draws_per_s}/s draw packets sent`
          : `the client's CPU: ${free.frames_shown_per_s}/s unconfined → ${pi.frames_shown_per_s}/s at the cap, throttled in ${pi.throttled_periods_pct ?? 0} % of periods`
      }.`,
    );
  }
  const cold = runs.map((r) => r.session_create_to_ready_ms);
  const xpra = runs.map((r) => r.xpra_start_to_attached_ms);
  const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
  notes.push(
    `- what dominates launch → attached: ${sum(cold) >= sum(xpra) ? "the server's cold start" : "the xpra client's start"} — the session's created → ready ${range(cold)} ms; xpra start → attached ` +
      `${pairs.length ? pairs.map(([q, pi, free]) => `${q}: ${free.xpra_start_to_attached_ms} ms unconfined, ${pi.xpra_start_to_attached_ms} ms at the cap`).join('; ') : `${range(xpra)} ms`}; the rest (docker run, node, the API, the CA) ` +
      `${range(runs.map((r) => r.launch_to_attached_ms - r.session_create_to_ready_ms - r.xpra_start_to_attached_ms))} ms.`,
  );
  return notes;
}

/** The server's own time to list a user's sessions: GET /v1/sessions minus GET /health, from this host (new TLS connections both). */
async function serverListMs(t: ApiUnderTest, token: string): Promise<{ sessions: number; health: number }> {
  const time = async (path: string, opts: { token?: string }) => {
    const xs: number[] = [];
    for (let i = 0; i < LIST_RUNS; i++) {
      const t0 = performance.now();
      const res = await t.call('GET', path, opts);
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
      xs.push(performance.now() - t0);
    }
    return r1(pct(xs, 50));
  };
  return { sessions: await time('/v1/sessions', { token }), health: await time('/health', {}) };
}

function listNotes(label: string, s: Record<ListStep, { p50: number }>): string {
  const parts: Array<[string, number]> = [
    ["node's bootstrap", s.list_boot.p50],
    ['loading the bundle', s.list_bundle.p50],
    [`the command (an HTTPS round trip alone: ${s.https_second.p50} ms)`, s.list_run.p50],
    ["outside node's clock", s.list_outside.p50],
  ];
  const top = [...parts].sort((a, b) => b[1] - a[1])[0]!;
  const shares = parts.map(([n, v]) => `${n} ${v} ms (${Math.round((100 * v) / s.list.p50)} %)`).join(', ');
  return `- what dominates \`hackstream list\`, ${label}: ${top[0].replace(/ \(.*/, '')}; of ${s.list.p50} ms (p50s): ${shares}.`;
}

export async function runClientBench(stack: TestStack, scrollUrl: string): Promise<{ result: Record<string, unknown>; md: string[] }> {
  const cleanup: Array<() => unknown> = [];
  try {
    const relay = await startTcpRelay(stack.ingressPort);
    cleanup.push(() => relay.close());
    // Connect descriptors name the relay: everything the device receives passes through it.
    const t = await startApiOn(stack, { HACKSTREAM_PUBLIC_PORT: String(relay.port), HACKSTREAM_LOG_LEVEL: 'error', HACKSTREAM_ROLE_POLICIES: POLICIES });
    cleanup.push(() => t.close());
    const display = await Display.start(1280, 720);
    cleanup.push(() => display.stop());
    const damage = await watchDamage(display);
    cleanup.push(() => damage.stop());
    const user = await t.newUser();
    const server = `https://localhost:${relay.port}`;
    const devices: Array<[string, Device]> = [
      ['unconfined', new Device({ caFile: stack.caFile, display: display.name })],
      ['Pi budget', new Device({ caFile: stack.caFile, display: display.name, dockerFlags: BUDGET })],
    ];
    for (const [label, device] of devices) {
      cleanup.push(() => device.remove());
      const login = await device.run(['login', '--server', server, '--username', user.username, '--password-stdin', '--ca', '/ca.pem'], { stdin: user.password });
      if (login.code !== 0) throw new Error(`login on the ${label} device failed: ${login.stderr}`);
    }

    const load0 = os.loadavg()[0]!;
    const runs: ScrollRun[] = [];
    const failed: string[] = [];
    // Each preset on both devices back to back, so that the pair sees the same host.
    for (const q of PRESETS) {
      for (const [label, device] of devices) {
        try {
          runs.push(await scrollRun(t, user.token, device, label, q, scrollUrl, relay, damage));
          log(`client scrolling, ${label}, ${q}: ${JSON.stringify(runs.at(-1))}`);
        } catch (err) {
          failed.push(`- ${label}, ${q}: FAILED (left out): ${(err as Error).message.split('\n')[0]}`);
          log(failed.at(-1)!);
        }
      }
    }
    const list: Record<string, Record<ListStep, { p50: number; p95: number }>> = {};
    for (const [label, device] of devices) {
      list[label] = await listTimes(device, relay.port);
      log(`hackstream list, ${label}: ${JSON.stringify(list[label])}`);
    }
    const api = await serverListMs(t, user.token);
    log(`the API, from this host: GET /v1/sessions ${api.sessions} ms, GET /health ${api.health} ms`);
    const load1 = os.loadavg()[0]!;

    const md: string[] = [
      `| client: device, preset (page scrolling ${SCROLL_S} s at ${SPEED} px/s, 1280×720) | launch → attached (server cold start; xpra start → attached) | Mbit/s received | frames shown/s | server draws/s | CPU cores: xpra / node / container | throttled periods | RSS peak (avg) MiB: xpra / node / other / total | cgroup memory MiB: end / max / limit |`,
      '|---|---|---|---|---|---|---|---|---|',
      ...runs.map(
        (r) =>
          `| ${r.device}, ${r.quality} | ${r.launch_to_attached_ms} ms (${r.session_create_to_ready_ms}; ${r.xpra_start_to_attached_ms} ms) | ${r.mbit_per_s} | ${r.frames_shown_per_s} | ${r.server_draws_per_s} | ${r.cpu_cores.xpra} / ${r.cpu_cores.node} / ${r.cpu_cores.container} | ${r.throttled_periods_pct ?? '-'} % | ` +
          `${r.rss_mib.xpra.peak} (${r.rss_mib.xpra.avg}) / ${r.rss_mib.node.peak} (${r.rss_mib.node.avg}) / ${r.rss_mib.other.peak} (${r.rss_mib.other.avg}) / ${r.rss_mib.total.peak} (${r.rss_mib.total.avg}) | ` +
          `${r.container_memory_mib.used_at_end} / ${r.container_memory_mib.max_usage ?? '-'} / ${r.container_memory_mib.limit ?? '-'} |`,
      ),
      '',
      ...failed,
      `- Pi budget: \`docker run ${BUDGET.join(' ')}\`; unconfined: the same image without limits, on this ${os.availableParallelism()}-core host, which it shares with the session, the stack and the bench (load average ${r1(load0)} → ${r1(load1)} during this part).`,
      "- frames shown/s: measured on the device's display (X DAMAGE on the Xvfb root window, notifications within " +
        `${FRAME_MERGE_MS} ms merged into one frame). The native client (xpra 3.1) exposes no paint counter (no info socket), and the server's \`xpra info\` ` +
        'has none either: it counts the draw packets it sent (`client.damage.packets_sent`, "server draws/s"), which the client acknowledges after painting, but not the acknowledgements (its per-packet input counters are broken in 3.1: each reads the output count + 1).',
      "- Mbit/s: bytes from the ingress to the device through a TCP relay (TLS and xpra's framing included); CPU: /proc ticks of each process over the window, and the container's cgroup; RSS: /proc every 250 ms (shared libraries included); cgroup memory: what the container is charged (page cache first read by another container is charged there).",
      ...scrollNotes(runs),
      '',
      `| client: \`hackstream list\` on Node 18, inside a running container (${LIST_RUNS} runs) | unconfined p50 | p95 | --cpus 0.5 p50 | p95 |`,
      '|---|---|---|---|---|',
      ...LIST_STEPS.map(([k, label]) => `| ${stepName(k, label)} | ${list['unconfined']![k].p50} ms | ${list['unconfined']![k].p95} ms | ${list['Pi budget']![k].p50} ms | ${list['Pi budget']![k].p95} ms |`),
      '',
      listNotes('unconfined', list['unconfined']!),
      listNotes('at --cpus 0.5', list['Pi budget']!),
      `- of the command's time, the API's own listing: GET /v1/sessions ${api.sessions} ms vs GET /health ${api.health} ms from this host (p50, new TLS connections): ${r1(api.sessions - api.health)} ms.`,
    ];
    return { result: { client_scrolling: runs, client_scrolling_failed: failed, client_list_ms: list, client_api_from_host_ms: api, client_load_average: [r1(load0), r1(load1)] }, md };
  } finally {
    for (const c of cleanup.reverse()) {
      try {
        await c();
      } catch (err) {
        log(`cleanup: ${(err as Error).message}`);
      }
    }
  }
}
