/**
 * Runs one pass of a stack's reconciler through its real Temporal Schedule (what the interval
 * would do, now) and returns the pass's report.
 */
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { reconcileScheduleId, type ReconcileReport } from '../../workflows/messages.js';

export async function reconcileNow(temporal: Client, taskQueue: string, timeoutMs = 120_000): Promise<ReconcileReport> {
  const schedule = temporal.schedule.getHandle(reconcileScheduleId(taskQueue));
  const before = new Set((await schedule.describe()).info.recentActions.map((a) => a.action.workflow.firstExecutionRunId));
  // A pass already running (the one at the worker's start) would make SKIP drop this trigger, and
  // ALLOW_ALL run both at once over the same sessions (each removing, and auditing, the same
  // leftovers): buffered, this pass starts once that one has ended (or, if one is already
  // buffered, that one is the pass that starts after now).
  await schedule.trigger(ScheduleOverlapPolicy.BUFFER_ONE);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const taken = (await schedule.describe()).info.recentActions.find((a) => !before.has(a.action.workflow.firstExecutionRunId));
    if (taken) {
      const { workflowId, firstExecutionRunId } = taken.action.workflow;
      return temporal.workflow.getHandle(workflowId, firstExecutionRunId).result() as Promise<ReconcileReport>;
    }
    if (Date.now() > deadline) throw new Error(`the reconcile schedule took no action within ${timeoutMs} ms of its trigger`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
