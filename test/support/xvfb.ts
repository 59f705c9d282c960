/**
 * An X display on the host for the native xpra client to draw on (a device's screen), and what
 * it shows: a screenshot through PIL (Debian's python3-pil), saved as a test artifact.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './paths.js';

export interface Display {
  /** `:N` */
  name: string;
  /** The share of the screen's pixels within 20 of `colour` in each channel, after saving a screenshot to `artifact`. */
  share(colour: { r: number; g: number; b: number }, artifact?: string): number;
  stop(): Promise<void>;
}

export const ARTIFACTS = path.join(REPO_ROOT, 'test-results');
/** Debian's Python, whose python3-pil the stack installs (a python3 earlier on PATH may lack it). */
const DEBIAN_PYTHON = '/usr/bin/python3';

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

export async function startXvfb(width = 1280, height = 800): Promise<Display> {
  // -displayfd: Xvfb picks a free display number and writes it to that descriptor.
  const proc: ChildProcess = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  const number = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    (proc.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    proc.once('exit', (code) => reject(new Error(`Xvfb exited (${code}): ${err}`)));
    setTimeout(() => reject(new Error(`Xvfb did not start: ${err}`)), 15_000);
  });
  const name = `:${number}`;
  return {
    name,
    share(colour, artifact) {
      if (artifact) mkdirSync(path.dirname(artifact), { recursive: true });
      const out = execFileSync(DEBIAN_PYTHON, ['-c', SHARE_SCRIPT, name, String(colour.r), String(colour.g), String(colour.b), artifact ?? ''], { encoding: 'utf8' });
      return Number(out.trim());
    },
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

/** Polls `check` (every 250 ms) until it holds; throws with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
