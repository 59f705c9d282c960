/**
 * CPU time on the benchmark's host, from /proc: the Docker engine's own processes (dockerd,
 * containerd, the containers' shims and what they waited for: runc for every `docker exec`),
 * which is the host's share of work done in containers on the control plane's behalf, this
 * process's (the in-process API and worker), and any other process's by its command (Temporal's).
 */
import { readdirSync, readFileSync } from 'node:fs';

const ENGINE = /^(dockerd|containerd|containerd-shim.*|runc)$/;
// /proc/<pid>/stat counts in clock ticks; Linux's USER_HZ is 100 on every architecture Node runs on.
const TICK_MICROS = 1e6 / 100;

/**
 * CPU time (µs) so far of the processes whose command matches `comm`, from /proc/<pid>/stat;
 * `children`: with what they waited for (a shim's `runc` runs).
 */
export function processesMicros(comm: RegExp, children: boolean): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // The command is in parentheses and may hold spaces; the fields after it are space-separated.
    const close = stat.lastIndexOf(')');
    if (!comm.test(stat.slice(stat.indexOf('(') + 1, close))) continue;
    const fields = stat.slice(close + 2).split(' ');
    // After the command: state(0) ... utime(11) stime(12) cutime(13) cstime(14).
    for (const i of children ? [11, 12, 13, 14] : [11, 12]) total += Number(fields[i]) * TICK_MICROS;
  }
  return total;
}

/** CPU time (µs) the Docker engine's processes have used so far. */
export const engineMicros = (): number => processesMicros(ENGINE, true);

/** CPU time (µs) this process has used so far. */
export function ownMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** The whole machine's busy and total CPU time so far (ticks), from /proc/stat's first line. */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // idle and iowait are the 4th and 5th.
  return { busy: total - fields[3]! - fields[4]!, total };
}

/**
 * Waits until the machine has been quiet (busy below `belowShare` of all its cores) for a whole
 * `windowMs`, or `maxMs` passed; returns how long it waited. Samples start on a quiet host: a
 * pool refill's Firefox start, or the last sample's teardown, otherwise lands in the next sample
 * on a machine of two cores. (What a sample costs while the host is busy is the growth rows'.)
 */
export async function untilHostQuiet(belowShare = 0.25, windowMs = 1000, maxMs = 30_000): Promise<number> {
  const started = performance.now();
  let last = machineTicks();
  for (;;) {
    await new Promise((r) => setTimeout(r, windowMs));
    const now = machineTicks();
    const share = (now.busy - last.busy) / Math.max(1, now.total - last.total);
    last = now;
    if (share < belowShare || performance.now() - started > maxMs) return performance.now() - started;
  }
}
