/**
 * The worker's Temporal Schedules (the pool warmer's, the reconciler's) are kept in step with its
 * configuration at every start: created once, updated afterwards, never duplicated.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
  type ScheduleOptionsStartWorkflowAction,
  type Workflow,
} from '@temporalio/client';

export async function upsertSchedule<W extends Workflow>(
  client: Client,
  options: ScheduleOptions<ScheduleOptionsStartWorkflowAction<W>> & { state: { paused: boolean; note?: string } },
  opts: { runNow: boolean },
): Promise<'created' | 'updated'> {
  try {
    await client.schedule.create<W>({ ...options, state: { ...options.state, triggerImmediately: opts.runNow } });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(options.scheduleId);
  await handle.update<W>((previous) => ({
    ...previous,
    spec: options.spec,
    action: options.action,
    policies: options.policies ?? previous.policies,
    state: options.state,
  }));
  if (opts.runNow) await handle.trigger(ScheduleOverlapPolicy.BUFFER_ONE);
  return 'updated';
}
