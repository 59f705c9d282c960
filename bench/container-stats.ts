/** What a container uses, as the Docker engine reports it (its cgroup's figures). */
import { docker } from '../test/support/docker.js';

/** Memory of a container as `docker stats` shows it (usage minus inactive page cache), and its anonymous memory. */
export async function memoryMiB(containerId: string): Promise<{ used: number; anon: number }> {
  const s = (await docker.getContainer(containerId).stats({ stream: false })) as unknown as {
    memory_stats: { usage: number; stats?: Record<string, number> };
  };
  // cgroup v2 names first, then v1's (as `docker stats` computes it).
  const st = s.memory_stats.stats ?? {};
  const inactive = st['inactive_file'] ?? st['total_inactive_file'] ?? 0;
  return { used: (s.memory_stats.usage - inactive) / 2 ** 20, anon: (st['anon'] ?? st['total_rss'] ?? st['rss'] ?? 0) / 2 ** 20 };
}

/** CPU time (µs) the session's container used so far (Docker's one-shot stats: cgroup v1 or v2). */
export async function cpuMicros(containerId: string): Promise<number> {
  const s = (await docker.getContainer(containerId).stats({ stream: false, 'one-shot': true } as { stream: false })) as unknown as {
    cpu_stats: { cpu_usage: { total_usage: number } };
  };
  return s.cpu_stats.cpu_usage.total_usage / 1000;
}
