/**
 * The Temporal Schedule of the reconciler (workflows/reconcile-workflow.ts): one pass every
 * HACKSTREAM_RECONCILE_INTERVAL_SECONDS on this stack's task queue, one at a time, and one at
 * every worker start (what a crash left is collected then).
 */
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { WorkerConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { reconcileScheduleId, type ReconcileInput } from '../workflows/messages.js';
import type { ReconcileWorkflow } from '../workflows/reconcile-workflow.js';
import { upsertSchedule } from './schedules.js';

export async function ensureReconcileSchedule(client: Client, config: WorkerConfig, logger: Logger): Promise<'created' | 'updated'> {
  const { taskQueue } = config.temporal;
  const input: ReconcileInput = { graceSeconds: config.reconcile.graceSeconds };
  const outcome = await upsertSchedule<typeof ReconcileWorkflow>(
    client,
    {
      scheduleId: reconcileScheduleId(taskQueue),
      spec: { intervals: [{ every: `${config.reconcile.intervalSeconds}s` }] },
      action: { type: 'startWorkflow', workflowType: 'ReconcileWorkflow', workflowId: `reconciler-${taskQueue}`, taskQueue, args: [input] },
      // A pass that outlasts the interval is not run twice at once; missed passes are not made up.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      state: { paused: false, note: 'reconciler (worker configuration)' },
    },
    { runNow: true },
  );
  logger.info(`${outcome} the reconcile schedule`, { everySeconds: config.reconcile.intervalSeconds, graceSeconds: input.graceSeconds });
  return outcome;
}
