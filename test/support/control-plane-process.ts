/**
 * The API or the worker as a real `node` process from the sources (`--import tsx`), as an operator
 * runs them: for tests of what main() wires (several APIs, tracing from OTEL_* variables).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from './paths.js';

export interface ControlPlaneProcess {
  proc: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output: string[];
  /** Stops it (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

export async function spawnControlPlane(
  which: 'api' | 'worker',
  env: Record<string, string>,
  /** Resolves once it is ready (polled every 200 ms, at most 90 s). */
  ready: (output: string) => boolean | Promise<boolean>,
  /** A command that runs the process, such as `nsenter --net=…` (another host's network, test/support/second-engine.ts). */
  prefix: string[] = [],
): Promise<ControlPlaneProcess> {
  const output: string[] = [];
  const command = [...prefix, process.execPath, '--import', 'tsx', `${which}/main.ts`];
  const proc = spawn(command[0]!, command.slice(1), { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  proc.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  };
  const deadline = Date.now() + 90_000;
  while (!(await ready(output.join('')))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the ${which} process did not start:\n${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { proc, output, stop };
}

/** The API process on `port`, ready once /health answers. */
export function spawnApi(env: Record<string, string>, port: number): Promise<ControlPlaneProcess & { url: string }> {
  const url = `http://127.0.0.1:${port}`;
  const healthy = () => fetch(`${url}/health`).then((r) => r.ok, () => false);
  return spawnControlPlane('api', { ...env, HACKSTREAM_API_PORT: String(port) }, healthy).then((p) => ({ ...p, url }));
}
