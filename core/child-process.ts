/**
 * The long-running helper processes the node gateway and an edge node keep (the tunnel's sshd,
 * the node's ssh, its demux): their stderr into the structured log a line at a time, and a stop
 * that waits until the process has really gone.
 */
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

/** Hands each line the process writes to `stream` to `log`. */
export function logLines(stream: Readable, log: (line: string) => void): void {
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    for (const line of text.split('\n').filter(Boolean)) log(line);
  });
}

/** SIGTERM, then resolves once the process has exited (at once when it already had). */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
