/**
 * A command run in a session pod's container through the API server's exec (the kubelet runs it),
 * as the Docker runtime runs one with the engine's exec: its exit code and output, within a time
 * limit. The worker's Role grants `pods/exec` in the sessions' namespace only.
 */
import { Readable, Writable } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What is kept of a command's output: the end of it (xpra's status is a few KiB). */
const MAX_OUTPUT_BYTES = 1 << 20;

function collector(): { stream: Writable; text(): string } {
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      size += chunk.length;
      while (size > MAX_OUTPUT_BYTES && chunks.length > 1) size -= chunks.shift()!.length;
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/**
 * The exit code the API server's final status carries: 0 on Success; on Failure, the
 * NonZeroExitCode cause's ExitCode (any other failure, such as a command not found, throws).
 */
export function exitCodeOf(status: V1Status): number {
  if (status.status === 'Success') return 0;
  const code = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
  if (status.reason === 'NonZeroExitCode' && code !== undefined && /^\d+$/.test(code)) return Number(code);
  throw new Error(`exec failed: ${status.message ?? status.reason ?? 'no status'}`);
}

/** What is used of the exec's WebSocket (the `ws` package's). */
interface ExecSocket {
  terminate(): void;
  once(event: 'close', listener: () => void): void;
}

export class PodExec {
  private readonly exec: Exec;

  constructor(config: KubeConfig) {
    this.exec = new Exec(config);
  }

  /** `stdin`: what the command reads, then the end of its input (never a secret on its command line). */
  run(namespace: string, pod: string, container: string, command: string[], timeoutMs: number, stdin?: string): Promise<ExecResult> {
    const out = collector();
    const err = collector();
    return new Promise<ExecResult>((resolve, reject) => {
      let status: V1Status | null = null;
      let socket: ExecSocket | undefined;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        // At once, not after a close handshake the other end may never answer.
        socket?.terminate();
        reject(new Error(`${command[0]} in pod ${pod} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        if (!status) {
          reject(new Error(`${command[0]} in pod ${pod} ended without a status`));
          return;
        }
        try {
          resolve({ exitCode: exitCodeOf(status), stdout: out.text(), stderr: err.text() });
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      };
      this.exec
        .exec(namespace, pod, container, command, out.stream, err.stream, stdin === undefined ? null : Readable.from([Buffer.from(stdin, 'utf8')]), false, (s) => {
          status = s;
        })
        .then(
          (ws: unknown) => {
            socket = ws as ExecSocket;
            // Connected only after the time limit: nothing waits for it any more.
            if (timedOut) socket.terminate();
            else socket.once('close', settle);
          },
          (e: unknown) => {
            clearTimeout(timer);
            reject(e instanceof Error ? e : new Error(String(e)));
          },
        );
    });
  }
}
