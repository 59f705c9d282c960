/**
 * Runs one pass of a stack's reconciler through its real Temporal Schedule (what the interval
 * would do, now) and returns the pass's report.
 */
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { reconcileScheduleId, type ReconcileReport } from '../../workflows/messages.js';

export async function reconcileNow(temporal: Client, taskQueue: string, timeoutMs = 120_000): Promise<ReconcileReport> {
  const schedule = temporal.schedule.getHandle(reconcileScheduleId(taskQueue));
  const since = Date.now() - 1000;
  // A pass already running (the one at the worker's start) would make SKIP drop this trigger.
  await schedule.trigger(ScheduleOverlapPolicy.ALLOW_ALL);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const taken = (await schedule.describe()).info.recentActions.find((a) => a.takenAt.getTime() >= since);
    if (taken) {
      const { workflowId, firstExecutionRunId } = taken.action.workflow;
      return temporal.workflow.getHandle(workflowId, firstExecutionRunId).result() as Promise<ReconcileReport>;
    }
    if (Date.now() > deadline) throw new Error(`the reconcile schedule took no action within ${timeoutMs} ms of its trigger`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
