/**
 * Whether anyone is connected to a session's xpra, read from the host without entering the
 * container, from the kernel's view of the container's network namespace (files under
 * `/proc/<pid>/net/` of its main process):
 *
 * - `sockstat` and `sockstat6` count the namespace's TCP sockets in use (listening ones included):
 *   a few dozen bytes, read in microseconds. While that count is the number of sockets xpra
 *   listens on, nobody is connected to anything.
 * - `tcp` and `tcp6` list every socket: established connections to xpra's ports, and the
 *   listening sockets. Costly (the kernel walks the host's whole connection table for each read,
 *   milliseconds), so read only when the count says something more than the listeners exists.
 *
 * Both cost far less than `xpra info` in the container (a Python process each time): the session
 * monitor asks xpra only when a connection to it exists.
 */
import { readFile } from 'node:fs/promises';

// The `st` column of /proc/net/tcp (include/net/tcp_states.h).
const ESTABLISHED = '01';
const LISTEN = '0A';

export interface TcpTable {
  /** Established connections to the given ports (on this side of them). */
  established: number;
  /** Listening sockets, any port. */
  listening: number;
}

/** Reads the text of `/proc/<pid>/net/tcp` or `tcp6`. */
export function readTcpTable(table: string, ports: readonly number[]): TcpTable {
  const counts: TcpTable = { established: 0, listening: 0 };
  for (const line of table.split('\n').slice(1)) {
    // "sl local_address rem_address st ...", e.g. "0: 0100007F:38A4 0100007F:C350 01 ..."
    const [, local, , state] = line.trim().split(/\s+/);
    if (!local) continue;
    if (state === LISTEN) counts.listening++;
    else if (state === ESTABLISHED && ports.includes(Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16))) counts.established++;
  }
  return counts;
}

/** The `inuse` figure of the `TCP:` or `TCP6:` line of a sockstat file. */
export function tcpInUse(sockstat: string): number {
  const m = /^TCP6?: inuse (\d+)/m.exec(sockstat);
  return m ? Number(m[1]) : 0;
}

const readAll = (pid: number, files: string[]) => Promise.all(files.map((f) => readFile(`/proc/${pid}/net/${f}`, 'utf8')));

/**
 * TCP sockets in use in the network namespace of process `pid`, or null when its files cannot
 * be read (the process is gone, or this process does not see the host's pids, as in a container
 * without `pid: host`).
 */
export async function socketsInUse(pid: number): Promise<number | null> {
  try {
    return (await readAll(pid, ['sockstat', 'sockstat6'])).reduce((sum, text) => sum + tcpInUse(text), 0);
  } catch {
    return null;
  }
}

/** The namespace's TCP table as `readTcpTable` counts it, or null when it cannot be read. */
export async function tcpTable(pid: number, ports: readonly number[]): Promise<TcpTable | null> {
  try {
    return (await readAll(pid, ['tcp', 'tcp6'])).map((t) => readTcpTable(t, ports)).reduce((a, b) => ({ established: a.established + b.established, listening: a.listening + b.listening }));
  } catch {
    return null;
  }
}
