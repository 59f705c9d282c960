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
 * - `windows.<wid>.class-instance=('Navigator', 'firefox-esr')`, `windows.<wid>.title=...`.
 */

export interface XpraWindow {
  id: number;
  classInstance: string[];
  title: string;
}

export interface XpraStatus {
  clients: number;
  /** Seconds since the most recent input from any client; null without clients. */
  minIdleSeconds: number | null;
  /** Sum of screen-update counters over connected clients. */
  damageEvents: number;
  windows: XpraWindow[];
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
  return { clients, minIdleSeconds, damageEvents, windows: [...windows.values()] };
}

/** True once the application's main window is mapped (e.g. class `firefox-esr`). */
export function hasAppWindow(status: XpraStatus, windowClass: string): boolean {
  return status.windows.some((w) => w.classInstance.some((c) => c.toLowerCase() === windowClass.toLowerCase()));
}
