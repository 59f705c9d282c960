/**
 * CPU time on the benchmark's host, from /proc: the Docker engine's own processes (dockerd,
 * containerd, the containers' shims and what they waited for: runc for every `docker exec`),
 * which is the host's share of work done in containers on the control plane's behalf, and this
 * process's (the in-process API and worker).
 */
import { readdirSync, readFileSync } from 'node:fs';

const ENGINE = /^(dockerd|containerd|containerd-shim.*|runc)$/;
// /proc/<pid>/stat counts in clock ticks; Linux's USER_HZ is 100 on every architecture Node runs on.
const TICK_MICROS = 1e6 / 100;

/** utime + stime + cutime + cstime of one process, in µs; null when it is gone. */
function processMicros(pid: string): { comm: string; micros: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command is in parentheses and may hold spaces; the fields after it are space-separated.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    // After the command: state(0) ... utime(11) stime(12) cutime(13) cstime(14).
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return { comm, micros: ticks * TICK_MICROS };
  } catch {
    return null;
  }
}

/** CPU time (µs) the Docker engine's processes have used so far. */
export function engineMicros(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const p = processMicros(pid);
    if (p && ENGINE.test(p.comm)) total += p.micros;
  }
  return total;
}

/** CPU time (µs) this process has used so far. */
export function ownMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

