/** A child process run to completion: its exit code and both outputs, or an error after a deadline. */
import type { ChildProcess } from 'node:child_process';

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Feeds `stdin` (closing it), gathers the outputs, and on timeout ends the process with `kill`
 * (default SIGKILL to the process; a test whose child opened windows kills its whole group).
 */
export function collectOutput(child: ChildProcess, stdin: string | undefined, timeoutMs: number, kill: (c: ChildProcess) => void = (c) => c.kill('SIGKILL')): Promise<ProcessResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  // A program that exits without reading its input (EPIPE) has still run: its exit code says how.
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(stdin ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    const timer = setTimeout(() => {
      kill(child);
      reject(new Error(`${child.spawnfile} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
