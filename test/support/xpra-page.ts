/**
 * Checks run inside the page of xpra's HTML5 client (passed to Playwright's waitForFunction,
 * which serialises them: no closures). The page's DOM is declared here, for this module only, so
 * the rest of the project keeps Node's types.
 */
interface PageElement {
  textContent: string | null;
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}
declare const document: { querySelectorAll(selector: string): Iterable<PageElement> };
declare const window: { innerWidth: number; innerHeight: number };

/** A streamed window's title (xpra shows the app's window title in its header) contains `title`. */
export function windowTitled(title: string): boolean {
  return [...document.querySelectorAll('.windowtitle')].some((e) => (e.textContent ?? '').includes(title));
}

/** A window titled `title` is shown, and the colour fills its content (read from the canvas). */
export function windowShows(args: { title: string; colour: { r: number; g: number; b: number } }): boolean {
  const { title, colour } = args;
  if (![...document.querySelectorAll('.windowtitle')].some((e) => (e.textContent ?? '').includes(title))) return false;
  for (const canvas of document.querySelectorAll('#screen canvas')) {
    if (canvas.width < 100 || canvas.height < 200) continue;
    const ctx = canvas.getContext('2d');
    if (!ctx) continue;
    for (const fy of [0.5, 0.6, 0.7]) {
      const px = ctx.getImageData(Math.floor(canvas.width * 0.8), Math.floor(canvas.height * fy), 1, 1).data;
      const [r, g, b] = [px[0] ?? -1, px[1] ?? -1, px[2] ?? -1];
      if (Math.abs(r - colour.r) <= 20 && Math.abs(g - colour.g) <= 20 && Math.abs(b - colour.b) <= 20) return true;
    }
  }
  return false;
}

/**
 * The app's window fills the browser tab without overflowing it (Firefox starts maximized and
 * the client fits it to its screen; its header bar takes some of the height).
 */
export function windowFillsTab(): boolean {
  const sizes = [...document.querySelectorAll('#screen canvas')].map((c) => [c.width, c.height] as const);
  const [w, h] = sizes.sort((a, b) => b[0] * b[1] - a[0] * a[1])[0] ?? [0, 0];
  return w <= window.innerWidth && h <= window.innerHeight && w >= window.innerWidth * 0.95 && h >= window.innerHeight * 0.85;
}

/**
 * A window titled `title` is shown and painted: its largest canvas holds an app's drawing (at
 * least `minColours` distinct colours on a grid of samples), not an empty or single-colour frame.
 */
export function windowPainted(args: { title: string; minColours: number }): boolean {
  if (![...document.querySelectorAll('.windowtitle')].some((e) => (e.textContent ?? '').includes(args.title))) return false;
  const canvases = [...document.querySelectorAll('#screen canvas')].sort((a, b) => b.width * b.height - a.width * a.height);
  const canvas = canvases[0];
  const ctx = canvas && canvas.width >= 100 && canvas.height >= 100 ? canvas.getContext('2d') : null;
  if (!canvas || !ctx) return false;
  const colours = new Set<string>();
  for (let gy = 1; gy < 16; gy++) {
    for (let gx = 1; gx < 16; gx++) {
      const px = ctx.getImageData(Math.floor((canvas.width * gx) / 16), Math.floor((canvas.height * gy) / 16), 1, 1).data;
      colours.add(`${px[0]},${px[1]},${px[2]}`);
    }
  }
  return colours.size >= args.minColours;
}

/** What the client shows: its windows' titles and its canvases' sizes (for a failure's message). */
export function clientWindows(): { titles: string[]; canvases: string[] } {
  return {
    titles: [...document.querySelectorAll('.windowtitle')].map((e) => e.textContent ?? ''),
    canvases: [...document.querySelectorAll('#screen canvas')].map((c) => `${c.width}x${c.height}`),
  };
}
