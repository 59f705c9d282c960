/**
 * Keeps the pools of pre-warmed containers full. Run by a Temporal Schedule every
 * HACKSTREAM_POOL_INTERVAL_SECONDS (one run at a time, one more buffered) and triggered at once
 * whenever the API claims a container. Per pool: drop what died or aged, then warm what is
 * missing, in parallel. Warm containers are single-use: a claimed one never comes back.
 */
import { log, patched, proxyActivities, sleep } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { poolName, type PoolWarmerInput } from './messages.js';

type Activities = ReturnType<typeof createActivities>;

const { reconcilePool } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  // The schedule starts no run while this one is open: a run whose worker died must time out
  // soon (the activity heartbeats every few seconds, activities/keep-alive.ts).
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
});

/**
 * How long a run waits before looking at the pools. Every claim triggers a run, and starting
 * containers (networks, container starts, Firefox's start-up) competes for dockerd and the CPU
 * with the claims still in progress: waiting lets a burst of claims finish first (measured in
 * bench/results/design-measurements.md), and its refill then warms all the missing containers in
 * one run.
 */
export const REFILL_SETTLE = '3 seconds';

export async function PoolWarmerWorkflow(input: PoolWarmerInput): Promise<{ warmed: number; removed: number }> {
  // Runs started by workers from before the pause replay without it.
  if (patched('pool-refill-settle')) await sleep(REFILL_SETTLE);
  let warmed = 0;
  let removed = 0;
  await Promise.all(
    input.pools.map(async (pool) => {
      const { warmContainer } = proxyActivities<Activities>({
        startToCloseTimeout: `${pool.readySeconds + 60}s`,
        heartbeatTimeout: '30s',
        // A failed warm-up is retried by the next run, not here: the schedule is the retry loop.
        retry: { maximumAttempts: 1 },
      });
      const state = await reconcilePool(pool);
      removed += state.removed;
      const missing = Math.max(0, pool.size - state.ready);
      const results = await Promise.allSettled(Array.from({ length: missing }, () => warmContainer(pool)));
      for (const r of results) {
        if (r.status === 'fulfilled') warmed++;
        else log.warn('warming a container failed', { pool: poolName(pool.app, pool.quality), error: String(r.reason) });
      }
    }),
  );
  return { warmed, removed };
}
