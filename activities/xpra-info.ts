/**
 * Reads the facts HackStream needs out of `xpra info` (xpra 3.1), whose output is one
 * `dotted.key=value` line per item.
 *
 * Keys used (checked against xpra 3.1.3):
 * - `clients=N`: connected, authenticated clients;
 * - `client.idle_time=S` (one client) or `client.<i>.idle_time=S` (several): seconds since the
 *   client's last keyboard or pointer event;
 * - `client.damage.events=N` / `client.<i>.damage.events=N`: screen updates sent to the client,
 *   a counter that grows while the screen changes;
 * - `windows.<wid>.class-instance=('Navigator', 'firefox-esr')`, `windows.<wid>.title=...`;
 * - per client, what it is streamed (`client.` or `client.<i>.` as above; checked against a real
 *   attach, test/unit/fixtures/xpra-info-one-client.txt): `connection.server.ping_latency.avg`
 *   (ms, the server's pings to the client and back), `connection.output.bytecount` (bytes sent
 *   so far), `window.<wid>.damage.fps` (frames per second sent of that window),
 *   `encoding.quality.cur` (the picture quality xpra chose, 0–100), `window.<wid>.last_used`
 *   (the encoding the window was last sent in).
 */

/** The display and socket directory the session image's xpra runs with (images/session/entrypoint.sh). */
export const XPRA_DISPLAY = ':100';
const XPRA_SOCKET_DIR = '/tmp/xpra';

/** The command that prints the session's `xpra info`, run in its container (Docker's exec, a pod's exec). */
export const XPRA_INFO_COMMAND = ['xpra', 'info', XPRA_DISPLAY, `--socket-dir=${XPRA_SOCKET_DIR}`];

/** What XPRA_INFO_COMMAND's run says; throws when xpra did not answer. */
export function xpraStatusOf(run: { exitCode: number; stdout: string; stderr: string }): XpraStatus {
  if (run.exitCode !== 0) throw new Error(`xpra info exited with ${run.exitCode}: ${run.stderr.trim().slice(-300)}`);
  return readXpraStatus(run.stdout);
}

export interface XpraWindow {
  id: number;
  classInstance: string[];
  title: string;
}

/** What one attached client is streamed. */
export interface XpraStream {
  roundTripMs: number | null;
  /** Bytes sent to this client so far: a counter (a new connection starts again from 0). */
  bytesSent: number | null;
  /** Summed over the windows. */
  framesPerSecond: number;
  quality: number | null;
  /** The encoding each window was last sent in, e.g. `h264`, `jpeg`, `rgb24`. */
  encodings: string[];
}

export interface XpraStatus {
  clients: number;
  /** Seconds since the most recent input from any client; null without clients. */
  minIdleSeconds: number | null;
  /** Sum of screen-update counters over connected clients. */
  damageEvents: number;
  windows: XpraWindow[];
  /** One per attached client, in the order of xpra's client numbers. */
  streams: XpraStream[];
}

export function parseXpraInfo(text: string): Map<string, string> {
  const info = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    info.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return info;
}

/** Parses a Python tuple of strings as printed by xpra, e.g. `('Navigator', 'firefox-esr')`. */
function parseStringTuple(value: string): string[] {
  return [...value.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? m[2] ?? '');
}

// `client.idle_time` for a single client, `client.3.idle_time` when several are connected.
const CLIENT_KEY = /^client\.(?:\d+\.)?(idle_time|damage\.events)$/;
const WINDOW_KEY = /^windows\.(\d+)\.(class-instance|title)$/;
// The client's number (absent with one client), then the stream's keys.
const STREAM_KEY =
  /^client\.(?:(\d+)\.)?(connection\.server\.ping_latency\.avg|connection\.output\.bytecount|encoding\.quality\.cur|window\.\d+\.damage\.fps|window\.\d+\.last_used)$/;

function readStreams(info: Map<string, string>): XpraStream[] {
  const streams = new Map<number, XpraStream>();
  for (const [key, value] of info) {
    const m = STREAM_KEY.exec(key);
    if (!m) continue;
    const client = Number(m[1] ?? 0);
    const s = streams.get(client) ?? { roundTripMs: null, bytesSent: null, framesPerSecond: 0, quality: null, encodings: [] };
    streams.set(client, s);
    const field = m[2]!;
    if (field.endsWith('last_used')) {
      s.encodings.push(value);
      continue;
    }
    const n = Number(value);
    if (!Number.isFinite(n)) continue;
    if (field.endsWith('ping_latency.avg')) s.roundTripMs = n;
    else if (field.endsWith('bytecount')) s.bytesSent = n;
    else if (field.endsWith('quality.cur')) s.quality = n;
    else s.framesPerSecond += n;
  }
  return [...streams.entries()].sort(([a], [b]) => a - b).map(([, s]) => s);
}

export function readXpraStatus(text: string): XpraStatus {
  const info = parseXpraInfo(text);
  const clients = Number.parseInt(info.get('clients') ?? '0', 10) || 0;
  let minIdleSeconds: number | null = null;
  let damageEvents = 0;
  const windows = new Map<number, XpraWindow>();

  for (const [key, value] of info) {
    const client = CLIENT_KEY.exec(key);
    if (client && clients > 0) {
      const n = Number(value);
      if (!Number.isFinite(n)) continue;
      if (client[1] === 'idle_time') minIdleSeconds = minIdleSeconds === null ? n : Math.min(minIdleSeconds, n);
      else damageEvents += n;
      continue;
    }
    const win = WINDOW_KEY.exec(key);
    if (win) {
      const id = Number(win[1]);
      const w = windows.get(id) ?? { id, classInstance: [], title: '' };
      if (win[2] === 'title') w.title = value;
      else w.classInstance = parseStringTuple(value);
      windows.set(id, w);
    }
  }
  return { clients, minIdleSeconds, damageEvents, windows: [...windows.values()], streams: clients > 0 ? readStreams(info) : [] };
}

/** True once the application's main window is mapped (e.g. class `firefox-esr`). */
export function hasAppWindow(status: XpraStatus, windowClass: string): boolean {
  return status.windows.some((w) => w.classInstance.some((c) => c.toLowerCase() === windowClass.toLowerCase()));
}
