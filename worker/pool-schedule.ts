/**
 * The Temporal Schedule that keeps the warm pools full (workflows/pool-warmer-workflow.ts).
 * Every worker makes sure it exists at start, with the pools of its configuration: created once,
 * updated afterwards (never duplicated), paused when no pool is configured.
 */
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { appLaunch } from '../core/app-catalog.js';
import type { WorkerConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { poolScheduleId, type PoolWarmerInput } from '../workflows/messages.js';
import type { PoolWarmerWorkflow } from '../workflows/pool-warmer-workflow.js';
import { upsertSchedule } from './schedules.js';

export function poolWarmerInput(config: WorkerConfig): PoolWarmerInput {
  const s = config.session;
  return {
    pools: config.pool.pools.map((p) => ({
      app: p.app,
      quality: p.quality,
      size: p.size,
      image: p.image,
      launch: appLaunch(config.apps[p.app]!), // the configuration lets only the catalog's apps pool
      resources: { memoryMb: s.memoryMb, cpus: s.cpus, shmMb: s.shmMb, pidsLimit: s.pidsLimit },
      readySeconds: s.readyTimeoutSeconds,
      maxAgeSeconds: config.pool.maxAgeSeconds,
      // Long enough for the longest session claimed at the last moment before the container ages out.
      certLifetimeSeconds: s.maxDurationSeconds + config.pool.maxAgeSeconds + 2 * config.pool.intervalSeconds + 300,
    })),
  };
}

export async function ensurePoolSchedule(client: Client, config: WorkerConfig, logger: Logger): Promise<'created' | 'updated'> {
  const input = poolWarmerInput(config);
  const paused = input.pools.length === 0;
  const outcome = await upsertSchedule<typeof PoolWarmerWorkflow>(
    client,
    {
      scheduleId: poolScheduleId(config.temporal.taskQueue),
      spec: { intervals: [{ every: `${config.pool.intervalSeconds}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'PoolWarmerWorkflow',
        workflowId: `pool-warmer-${config.temporal.taskQueue}`,
        taskQueue: config.temporal.taskQueue,
        args: [input] as Parameters<typeof PoolWarmerWorkflow>,
      },
      // One run at a time; a claim's trigger during a run queues exactly one more.
      policies: { overlap: ScheduleOverlapPolicy.BUFFER_ONE, catchupWindow: '1 minute' },
      state: { paused, note: paused ? 'no pool configured (HACKSTREAM_POOL)' : 'pools from worker configuration' },
    },
    { runNow: !paused },
  );
  logger.info(`${outcome} the pool-warming schedule`, { pools: input.pools.map((p) => `${p.app}:${p.quality}:${p.size}`) });
  return outcome;
}
