/**
 * The long-running binaries a test starts for a service of its own (a Kubernetes control plane,
 * a node), each with its output in `<dir>/<log name>.log`, stopped together in the reverse order
 * of their start: each still has what it talks to while it stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface LoggedProcesses {
  launch: (file: string, args: string[], logName: string, env?: Record<string, string>) => ChildProcess;
  /** The end of a process's log, for a failure's message ('' before it wrote one). */
  logOf: (logName: string) => string;
  /** SIGTERM to each, the last started first; SIGKILL to one still running 10 s later. */
  stop: () => Promise<void>;
}

export function loggedProcesses(dir: string): LoggedProcesses {
  const procs: ChildProcess[] = [];
  const logFile = (name: string) => path.join(dir, `${name}.log`);
  return {
    launch: (file, args, logName, env = {}) => {
      const log = openSync(logFile(logName), 'a');
      const proc = spawn(file, args, { stdio: ['ignore', log, log], env: { ...process.env, ...env } });
      procs.push(proc);
      return proc;
    },
    logOf: (name) => (existsSync(logFile(name)) ? readFileSync(logFile(name), 'utf8').slice(-3000) : ''),
    stop: async () => {
      for (const proc of [...procs].reverse()) {
        if (proc.exitCode !== null || proc.signalCode !== null) continue;
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      }
    },
  };
}
