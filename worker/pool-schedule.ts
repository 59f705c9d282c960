/**
 * The Temporal Schedule that keeps the warm pools full (workflows/pool-warmer-workflow.ts).
 * Every worker makes sure it exists at start, with the pools of its configuration: created once,
 * updated afterwards (never duplicated), paused when no pool is configured.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { WorkerConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { poolScheduleId, type PoolWarmerInput } from '../workflows/messages.js';
import type { PoolWarmerWorkflow } from '../workflows/pool-warmer-workflow.js';

export function poolWarmerInput(config: WorkerConfig): PoolWarmerInput {
  const s = config.session;
  return {
    pools: config.pool.pools.map((p) => ({
      app: p.app,
      quality: p.quality,
      size: p.size,
      image: s.image,
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
  const spec = { intervals: [{ every: `${config.pool.intervalSeconds}s` }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'PoolWarmerWorkflow',
    workflowId: `pool-warmer-${config.temporal.taskQueue}`,
    taskQueue: config.temporal.taskQueue,
    args: [input] as Parameters<typeof PoolWarmerWorkflow>,
  };
  // One run at a time; a claim's trigger during a run queues exactly one more.
  const policies = { overlap: ScheduleOverlapPolicy.BUFFER_ONE, catchupWindow: '1 minute' };
  try {
    await client.schedule.create<typeof PoolWarmerWorkflow>({
      scheduleId: poolScheduleId(config.temporal.taskQueue),
      spec,
      action,
      policies,
      state: { paused, triggerImmediately: !paused, note: paused ? 'no pool configured (HACKSTREAM_POOL)' : undefined },
    });
    logger.info('created the pool-warming schedule', { pools: input.pools.map((p) => `${p.app}:${p.quality}:${p.size}`) });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(poolScheduleId(config.temporal.taskQueue));
  await handle.update<typeof PoolWarmerWorkflow>((previous) => ({
    ...previous,
    spec,
    action,
    policies,
    state: { paused, note: paused ? 'no pool configured (HACKSTREAM_POOL)' : 'pools from worker configuration' },
  }));
  if (!paused) await handle.trigger(ScheduleOverlapPolicy.BUFFER_ONE);
  logger.info('updated the pool-warming schedule', { pools: input.pools.map((p) => `${p.app}:${p.quality}:${p.size}`) });
  return 'updated';
}
