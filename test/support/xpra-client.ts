/**
 * Debian's xpra client, headless under Xvfb (xvfb-run), attaching over TLS the way a native
 * HackStream client does: by the session's TLS name (SNI) through the ingress, verifying the
 * server's certificate against the HackStream CA, with the one-time token.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface NativeAttachOptions {
  host: string;
  port: number;
  sni: string;
  caFile: string;
  username?: string;
  /** The token; written to a file without a trailing newline (xpra reads it byte for byte). */
  password?: string;
}

export interface XpraClient {
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Resolves true once the client logs that it attached, false if it exits first. */
  attached(timeoutMs?: number): Promise<boolean>;
  stop(): Promise<void>;
}

/** The native client with what POST /v1/sessions/:id/connect answered (its `native` part), through an ingress on loopback. */
export function attachNative(native: { sni: string; username: string; password: string }, ingress: { port: number; caFile: string }): XpraClient {
  return attachXpra({ host: '127.0.0.1', port: ingress.port, sni: native.sni, caFile: ingress.caFile, username: native.username, password: native.password });
}

export function attachXpra(o: NativeAttachOptions): XpraClient {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-xpra-client-'));
  const args = [
    '-a',
    'xpra',
    'attach',
    `ssl://${o.host}:${o.port}/`,
    `--ssl-server-hostname=${o.sni}`,
    `--ssl-ca-certs=${o.caFile}`,
    '--ssl-server-verify-mode=required',
    '--challenge-handlers=file',
    '--opengl=no',
    '--tray=no',
    '--notifications=no',
    '--speaker=off',
    '--microphone=off',
    '--webcam=no',
    '--mmap=no',
  ];
  if (o.username) args.push(`--username=${o.username}`);
  if (o.password !== undefined) {
    const file = path.join(dir, 'token');
    writeFileSync(file, o.password, { mode: 0o600 });
    args.push(`--password-file=${file}`);
  }
  const proc: ChildProcess = spawn('xvfb-run', args, {
    env: { ...process.env, HOME: dir, XDG_RUNTIME_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: stop() ends xvfb-run, Xvfb and xpra together
  });
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  void exited.then(() => rmSync(dir, { recursive: true, force: true }));

  return {
    output: () => out,
    exited,
    async attached(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (/Attached to ssl:/.test(out)) return true;
        if (proc.exitCode !== null) return false;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    },
    async stop() {
      if (proc.exitCode === null && proc.pid) {
        try {
          process.kill(-proc.pid, 'SIGINT');
        } catch {
          // already gone
        }
        const timer = setTimeout(() => proc.pid && process.kill(-proc.pid, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** One attach attempt to its end: whether the client got in, and what it printed. */
export async function attachOnce(o: NativeAttachOptions, timeoutMs = 30_000): Promise<{ attached: boolean; output: string }> {
  const client = attachXpra(o);
  try {
    return { attached: await client.attached(timeoutMs), output: client.output() };
  } finally {
    await client.stop();
  }
}
