/**
 * Runs the packaged client the way a Raspberry Pi OS or Debian user does: the bundle on Debian
 * bookworm's own `nodejs` (18.x) with Debian's xpra client, in a container built once from the
 * offline base image (cached by the content of its recipe). The container shares the host's
 * network namespace, so it reaches the ingress on loopback and an X server on the host by its
 * abstract socket (`DISPLAY=:N`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildClientBundle } from './client-bundle.js';
import { collectOutput, type ProcessResult } from './process-output.js';

const BASE = 'hackstream/debian-base:bookworm';
// As the .deb depends: xpra 3.1 paints windows through python3-gi-cairo, which it does not depend on.
const PACKAGES = ['nodejs', 'xpra', 'python3-gi-cairo', 'python3-lz4', 'python3-pil', 'ca-certificates'];
const RECIPE = `FROM ${BASE}
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${PACKAGES.join(' ')} && rm -rf /var/lib/apt/lists/*
`;
export const NODE18_IMAGE = `hackstream/client-node18:${createHash('sha256').update(RECIPE).digest('hex').slice(0, 16)}`;

const imageExists = (tag: string) => {
  try {
    execFileSync('docker', ['image', 'inspect', tag], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Builds the image unless this recipe's tag exists (a minute or two the first time). */
export function ensureNode18Image(): string {
  if (!imageExists(NODE18_IMAGE)) {
    if (!imageExists(BASE)) throw new Error(`${BASE} is missing: run stack/test.sh (it builds the offline base image)`);
    execFileSync('docker', ['build', '-q', '-t', NODE18_IMAGE, '-'], { input: RECIPE, env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: ['pipe', 'ignore', 'pipe'], timeout: 600_000 });
  }
  return NODE18_IMAGE;
}

export type ClientResult = ProcessResult;

/** A device: its own home directory (config, tokens, state) that survives between commands. */
export class Device {
  readonly home: string;
  readonly name: string;

  /** `dockerFlags`: extra `docker run` options for every command, e.g. a device's budget: `['--cpus', '0.5', '--memory', '512m']`. */
  constructor(private readonly opts: { caFile?: string; display?: string; env?: Record<string, string>; dockerFlags?: string[] } = {}) {
    this.home = mkdtempSync(path.join(os.tmpdir(), 'hs-device-'));
    mkdirSync(path.join(this.home, 'run'), { mode: 0o700 });
    this.name = `hs-client-${path.basename(this.home).slice(-6).toLowerCase()}`;
  }

  /** `docker run` arguments that start `hackstream ARGS` (or `command`) on Node 18 (interactive: a TTY). */
  dockerArgs(args: string[], o: { tty?: boolean; name?: string; env?: Record<string, string>; command?: string[] } = {}): string[] {
    const bundle = buildClientBundle();
    const env = { HOME: '/home/user', XDG_RUNTIME_DIR: '/home/user/run', ...(this.opts.display ? { DISPLAY: this.opts.display } : {}), ...this.opts.env, ...o.env };
    return [
      'run',
      '--rm',
      o.tty ? '-it' : '-i',
      '--network=host',
      // A device, not a session: it shares the host's network, which an engine with a user
      // namespace allows only outside it.
      '--userns=host',
      ...(this.opts.dockerFlags ?? []),
      ...(o.name ? ['--name', o.name] : []),
      '-v',
      `${this.home}:/home/user`,
      '-v',
      `${bundle}:/usr/local/bin/hackstream:ro`,
      ...(this.opts.caFile ? ['-v', `${this.opts.caFile}:/ca.pem:ro`] : []),
      ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      ensureNode18Image(),
      ...(o.command ?? ['node', '/usr/local/bin/hackstream', ...args]),
    ];
  }

  /** Runs one command to completion (no terminal), with `stdin` as its standard input. */
  run(args: string[], o: { stdin?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ClientResult> {
    const child = spawn('docker', this.dockerArgs(args, { env: o.env }), { stdio: ['pipe', 'pipe', 'pipe'] });
    return collectOutput(child, o.stdin, o.timeoutMs ?? 120_000);
  }

  /** Starts a long-running command (attach, or `command` instead of hackstream); stop() interrupts it like Ctrl-C. */
  start(args: string[], o: { env?: Record<string, string>; command?: string[] } = {}): RunningClient {
    const name = `${this.name}-${Math.random().toString(36).slice(2, 8)}`;
    const child = spawn('docker', this.dockerArgs(args, { name, env: o.env, command: o.command }), { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    return {
      name,
      output: () => output,
      exited,
      async stop() {
        if (child.exitCode !== null) return;
        try {
          execFileSync('docker', ['kill', '--signal=INT', name], { stdio: 'ignore' });
        } catch {
          // already gone
        }
        const timer = setTimeout(() => execFileSync('docker', ['rm', '-f', name], { stdio: 'ignore' }), 15_000);
        await exited;
        clearTimeout(timer);
      },
    };
  }

  remove(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}

export interface RunningClient {
  /** The container's name (for docker exec, top, stats). */
  name: string;
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}
