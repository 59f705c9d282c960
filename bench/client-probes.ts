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
/** The input probe: armed for one input at a time (see installInputProbe). */
interface InputProbeState {
  /** The colour the input should bring to the screen; null: not armed. */
  expect: { r: number; g: number; b: number } | null;
  /** When the browser delivered the input to the client's page (page clock). */
  inputAt: number | null;
  /** Input to the first on-screen frame with the expected colour, ms; one per armed input. */
  latencies: number[];
}
interface Canvas2D {
  canvas: { width: number; height: number };
  getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
}
declare const window: {
  __hsProbe?: ProbeState;
  __hsInput?: InputProbeState;
  XpraWindow?: XpraWindowClass;
  addEventListener(type: string, listener: () => void, capture: boolean): void;
};
declare const performance: {
  now(): number;
  getEntriesByType(type: 'navigation'): Array<{ responseStart: number; responseEnd: number; domContentLoadedEventEnd: number; loadEventEnd: number }>;
};

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

/**
 * Installs the input probe (once); returns false when the client's code is not loaded yet.
 *
 * The moment of the input is when the browser delivers the key or button press to the client's
 * page (a listener in the capture phase, before the client's own): the browser's and the
 * operating system's input handling before that are the user's machine, not HackStream. The frame
 * showing its effect is the client's first `draw` (the copy of a window's decoded updates to its
 * on-screen canvas) after which the pixel at the middle of that canvas has the colour the input
 * brings (bench/pages/input.html flips the page's colour on every key and button press); the
 * browser composites that canvas at its next frame, at most one display frame later, not counted.
 */
export function installInputProbe(): boolean {
  const XpraWindow = window.XpraWindow;
  if (!XpraWindow) return false;
  if (window.__hsInput) return true;
  const state: InputProbeState = { expect: null, inputAt: null, latencies: [] };
  window.__hsInput = state;
  // Inline, unnamed listeners: this function is serialised into the page, where the bundler's
  // helper for named functions does not exist.
  for (const type of ['keydown', 'mousedown']) {
    window.addEventListener(
      type,
      () => {
        if (state.expect && state.inputAt === null) state.inputAt = performance.now();
      },
      true,
    );
  }
  const draw = XpraWindow.prototype.draw;
  XpraWindow.prototype.draw = function (this: { canvas_ctx?: Canvas2D }, ...args: unknown[]) {
    const result = draw.apply(this, args);
    const ctx = this.canvas_ctx;
    if (state.expect && state.inputAt !== null && ctx && ctx.canvas.width > 100 && ctx.canvas.height > 100) {
      const px = ctx.getImageData(Math.floor(ctx.canvas.width / 2), Math.floor(ctx.canvas.height * 0.6), 1, 1).data;
      const want = state.expect;
      // Lossy encodings (jpeg, webp at low quality) shift colours a little.
      if (Math.abs((px[0] ?? -1) - want.r) <= 40 && Math.abs((px[1] ?? -1) - want.g) <= 40 && Math.abs((px[2] ?? -1) - want.b) <= 40) {
        state.latencies.push(performance.now() - state.inputAt);
        state.expect = null;
        state.inputAt = null;
      }
    }
    return result;
  };
  return true;
}

/** Arms the probe for the next input, which should bring `colour` to the screen. */
export function armInputProbe(colour: { r: number; g: number; b: number }): void {
  const state = window.__hsInput;
  if (!state) throw new Error('the input probe is not installed');
  state.expect = colour;
  state.inputAt = null;
}

/** The latencies measured so far, and whether an input is still waiting for its frame. */
export function readInputProbe(): { latencies: number[]; waiting: boolean } {
  const state = window.__hsInput;
  return { latencies: state?.latencies ?? [], waiting: !!state?.expect };
}

declare const document: { querySelectorAll(selector: string): Iterable<{ width: number; height: number; getBoundingClientRect(): { x: number; y: number; width: number; height: number } }> };

/** Where to click on the streamed window: its largest canvas's middle, where the input probe looks. */
export function inputTarget(): { x: number; y: number } | null {
  const canvases = [...document.querySelectorAll('#screen canvas')].sort((a, b) => b.width * b.height - a.width * a.height);
  const r = canvases[0]?.getBoundingClientRect();
  return r ? { x: r.x + r.width / 2, y: r.y + r.height * 0.6 } : null;
}

/** The page's navigation timing (ms from the navigation's start): first byte, HTML received, DOM ready, load event done. */
export function navigationTiming(): { firstByte: number; html: number; domReady: number; loadDone: number } | null {
  const n = performance.getEntriesByType('navigation')[0];
  return n ? { firstByte: Math.round(n.responseStart), html: Math.round(n.responseEnd), domReady: Math.round(n.domContentLoadedEventEnd), loadDone: Math.round(n.loadEventEnd) } : null;
}
