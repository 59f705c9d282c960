/**
 * Code run inside the page of xpra's HTML5 client (3.1) by the benchmark, through Playwright
 * (serialised: no closures). It wraps two methods of the client's window class: `do_paint`, which
 * decodes one update from the server into the window's off-screen canvas, and `draw`, which copies
 * that canvas to the screen once per animation frame. The page's globals are declared here, for
 * this module only.
 */
interface ProbeState {
  /** [time (ms, performance.now), coding, pixels, quality option, encoded bytes] per decoded update. */
  paints: Array<[number, string, number, number | null, number]>;
  /** time of each on-screen frame */
  draws: number[];
}
interface XpraWindowClass {
  prototype: {
    do_paint: (...args: unknown[]) => unknown;
    draw: (...args: unknown[]) => unknown;
  };
}
declare const window: { __hsProbe?: ProbeState; XpraWindow?: XpraWindowClass };
declare const performance: { now(): number };

/** Installs the probe (once); returns false when the client's code is not loaded yet. */
export function installPaintProbe(): boolean {
  const XpraWindow = window.XpraWindow;
  if (!XpraWindow) return false;
  if (window.__hsProbe) return true;
  const state: ProbeState = { paints: [], draws: [] };
  window.__hsProbe = state;
  const doPaint = XpraWindow.prototype.do_paint;
  XpraWindow.prototype.do_paint = function (this: unknown, ...args: unknown[]) {
    const [, , w, h, coding, data, , , options] = args as [number, number, number, number, string, { length?: number } | null, unknown, unknown, Record<string, unknown> | undefined];
    const quality = typeof options?.['quality'] === 'number' ? options['quality'] : null;
    state.paints.push([performance.now(), String(coding), w * h, quality, data?.length ?? 0]);
    return doPaint.apply(this, args);
  };
  const draw = XpraWindow.prototype.draw;
  XpraWindow.prototype.draw = function (this: unknown, ...args: unknown[]) {
    state.draws.push(performance.now());
    return draw.apply(this, args);
  };
  return true;
}

/** The page's clock now, and what the probe saw since `since` (page clock). */
export function readPaintProbe(since: number): { now: number; paints: ProbeState['paints']; draws: number[] } {
  const state = window.__hsProbe ?? { paints: [], draws: [] };
  return { now: performance.now(), paints: state.paints.filter((p) => p[0] >= since), draws: state.draws.filter((d) => d >= since) };
}
