/**
 * An X display on the host (Xvfb): a device's screen for the native xpra client and the zenity
 * launcher. What it shows is read with Debian's python3-pil (screenshots, saved as test
 * artifacts) and its windows are found with xdotool.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths.js';

export const ARTIFACTS = path.join(REPO_ROOT, 'test-results');
/** Debian's Python, whose python3-pil the stack installs (a python3 earlier on PATH may lack it). */
const DEBIAN_PYTHON = '/usr/bin/python3';
const run = promisify(execFile);

export interface Geometry {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Share of pixels near a colour (on a quarter-size copy), after saving the screen if asked. */
const SHARE_SCRIPT = `
import sys
from PIL import ImageGrab
im = ImageGrab.grab(xdisplay=sys.argv[1]).convert('RGB')
if sys.argv[5]:
    im.save(sys.argv[5])
r, g, b = (int(v) for v in sys.argv[2:5])
small = im.resize((im.width // 4, im.height // 4))
px = list(small.getdata())
hit = sum(1 for (pr, pg, pb) in px if abs(pr - r) <= 20 and abs(pg - g) <= 20 and abs(pb - b) <= 20)
print(hit / len(px))
`;

/** Saves the whole screen and counts the distinct colours in a rectangle. */
const COLOURS_SCRIPT = `
import sys
from PIL import ImageGrab
display, file, x, y, w, h = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
img = ImageGrab.grab(xdisplay=display)
img.save(file)
print(len(img.crop((x, y, x + w, y + h)).getcolors(maxcolors=1 << 24)))
`;

export class Display {
  private constructor(
    private readonly xvfb: ChildProcess,
    /** `:N` */
    readonly name: string,
  ) {}

  /** Xvfb on a display number it picks itself (-displayfd), so parallel runs do not collide. */
  static async start(width = 1280, height = 800): Promise<Display> {
    const proc = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let log = '';
    proc.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    const number = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`Xvfb did not start: ${log}`)), 15_000);
      (proc.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) {
          clearTimeout(timer);
          resolve(out.trim());
        }
      });
      proc.once('error', (err) => reject(new Error(`Xvfb could not be started (apt-get install -y xvfb): ${err.message}`)));
      proc.once('exit', (code) => reject(new Error(`Xvfb exited (${code}): ${log}`)));
    });
    return new Display(proc, `:${number}`);
  }

  /** The share of the screen's pixels within 20 of `colour` in each channel; saves a screenshot to `artifact` if given. */
  share(colour: { r: number; g: number; b: number }, artifact?: string): number {
    if (artifact) mkdirSync(path.dirname(artifact), { recursive: true });
    const out = execFileSync(DEBIAN_PYTHON, ['-c', SHARE_SCRIPT, this.name, String(colour.r), String(colour.g), String(colour.b), artifact ?? ''], { encoding: 'utf8' });
    return Number(out.trim());
  }

  private xdotool(...args: string[]) {
    return run('xdotool', args, { env: { ...process.env, DISPLAY: this.name }, timeout: 10_000 });
  }

  /** A visible window named exactly `name`, once there is one. */
  async waitForWindow(name: string, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const { stdout } = await this.xdotool('search', '--onlyvisible', '--name', `^${name}$`);
        const ids = stdout.split('\n').filter(Boolean);
        if (ids.length > 0) return ids[ids.length - 1]!;
      } catch {
        // xdotool search exits 1 while nothing matches
      }
      if (Date.now() > deadline) throw new Error(`no window named ${name} on ${this.name} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async windowName(id: string): Promise<string> {
    return (await this.xdotool('getwindowname', id)).stdout.trim();
  }

  async geometry(id: string): Promise<Geometry> {
    const { stdout } = await this.xdotool('getwindowgeometry', '--shell', id);
    const v = Object.fromEntries(stdout.split('\n').filter((l) => l.includes('=')).map((l) => l.split('=') as [string, string]));
    return { x: Number(v['X']), y: Number(v['Y']), width: Number(v['WIDTH']), height: Number(v['HEIGHT']) };
  }

  /**
   * Saves a screenshot to `file` once the window has painted (more than a handful of colours in
   * its rectangle), and returns that count.
   */
  async screenshot(id: string, file: string, timeoutMs = 10_000): Promise<{ colours: number; geometry: Geometry }> {
    mkdirSync(path.dirname(file), { recursive: true });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const geometry = await this.geometry(id);
      const { stdout } = await run(DEBIAN_PYTHON, ['-c', COLOURS_SCRIPT, this.name, file, ...[geometry.x, geometry.y, geometry.width, geometry.height].map(String)], { timeout: 15_000 });
      const colours = Number(stdout.trim());
      if (colours > 16 || Date.now() > deadline) return { colours, geometry };
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** Escape in the window (a dialog's Cancel). */
  async cancel(id: string): Promise<void> {
    await this.xdotool('windowfocus', '--sync', id);
    await this.xdotool('key', '--clearmodifiers', 'Escape');
  }

  async stop(): Promise<void> {
    if (this.xvfb.exitCode !== null) return;
    this.xvfb.kill('SIGTERM');
    await new Promise((r) => this.xvfb.once('exit', r));
  }
}


/** Polls `check` (every 250 ms) until it holds; throws with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
