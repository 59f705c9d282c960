/**
 * Runs one `xpra attach`: the one-time password in a 0600 file under $XDG_RUNTIME_DIR that is
 * removed as soon as the client has attached (or exited), xpra's chatter appended to a log file
 * in the state directory, its last lines kept for an error message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ClientError } from './client-error.js';
import type { ClientPaths } from './client-paths.js';
import { EXIT } from './exit-codes.js';
import { ensurePrivateDir, writePrivateFile } from './private-files.js';

export interface XpraRun {
  code: number | null;
  /** The last lines xpra printed. */
  tail: string;
}

/** xpra 3.1 prints this once the session accepted the client. */
const ATTACHED = /Attached to /;
const TAIL_LINES = 12;

export class XpraLauncher {
  private current: ChildProcess | undefined;

  constructor(
    private readonly paths: ClientPaths,
    private readonly xpraBinary: string,
  ) {}

  get logFile(): string {
    return path.join(this.paths.stateDir, 'xpra.log');
  }

  run(argsFor: (passwordFile: string) => string[], password: string, onAttached?: () => void): Promise<XpraRun> {
    const passwordFile = path.join(this.paths.runtimeDir, `token-${randomBytes(8).toString('hex')}`);
    writePrivateFile(passwordFile, password);
    ensurePrivateDir(this.paths.stateDir);
    const removePassword = () => rmSync(passwordFile, { force: true });
    return new Promise<XpraRun>((resolve, reject) => {
      const child = spawn(this.xpraBinary, argsFor(passwordFile), { stdio: ['ignore', 'pipe', 'pipe'] });
      this.current = child;
      let lines: string[] = [];
      let attached = false;
      const onOutput = (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        try {
          appendFileSync(this.logFile, text, { mode: 0o600 });
        } catch {
          // the log is a convenience; attaching matters more
        }
        lines = [...lines, ...text.split('\n').filter(Boolean)].slice(-TAIL_LINES);
        if (!attached && ATTACHED.test(text)) {
          attached = true;
          removePassword();
          onAttached?.();
        }
      };
      child.stdout.on('data', onOutput);
      child.stderr.on('data', onOutput);
      child.once('error', (err: NodeJS.ErrnoException) => {
        removePassword();
        this.current = undefined;
        reject(
          err.code === 'ENOENT'
            ? new ClientError(`the xpra client (${this.xpraBinary}) is not installed: apt install xpra`, EXIT.attachFailed)
            : new ClientError(`could not start xpra: ${err.message}`, EXIT.attachFailed),
        );
      });
      child.once('close', (code, signal) => {
        removePassword();
        this.current = undefined;
        resolve({ code: code ?? (signal ? 128 : null), tail: lines.join('\n') });
      });
    });
  }

  /** Asks a running xpra client to disconnect (Ctrl-C in the terminal, or the GUI closing). */
  stop(): void {
    this.current?.kill('SIGINT');
  }
}
