/**
 * Whether anyone is connected to a session's xpra, read from the host without entering the
 * container: the kernel's TCP tables of the container's network namespace
 * (`/proc/<pid>/net/tcp` and `tcp6` of its main process), counting established connections to
 * xpra's ports. A file read of a few kilobytes, where `xpra info` in the container starts a Python
 * process: the session monitor asks xpra only when this finds a connection.
 */
import { readFile } from 'node:fs/promises';

// The `st` column of /proc/net/tcp: 01 is TCP_ESTABLISHED (include/net/tcp_states.h).
const ESTABLISHED = '01';

/** Established connections to `ports` in the text of `/proc/<pid>/net/tcp` or `tcp6`. */
export function countEstablished(table: string, ports: readonly number[]): number {
  let n = 0;
  for (const line of table.split('\n').slice(1)) {
    // "sl local_address rem_address st ...", e.g. "0: 0100007F:38A4 0100007F:C350 01 ..."
    const [, local, , state] = line.trim().split(/\s+/);
    if (state !== ESTABLISHED || !local) continue;
    const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (ports.includes(port)) n++;
  }
  return n;
}

/**
 * Established connections to `ports` in the network namespace of process `pid`, or null when its
 * tables cannot be read (the process is gone, or this process does not see the host's pids, as
 * in a container without `pid: host`): the caller cannot tell, so it asks xpra.
 */
export async function establishedConnections(pid: number, ports: readonly number[]): Promise<number | null> {
  try {
    const tables = await Promise.all(['tcp', 'tcp6'].map((t) => readFile(`/proc/${pid}/net/${t}`, 'utf8')));
    return tables.reduce((sum, table) => sum + countEstablished(table, ports), 0);
  } catch {
    return null;
  }
}
