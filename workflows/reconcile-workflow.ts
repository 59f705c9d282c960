/**
 * One pass of the reconciler (activities/reconciler.ts), run by the reconcile schedule every
 * HACKSTREAM_RECONCILE_INTERVAL_SECONDS, one pass at a time. A pass that fails is not retried
 * here: the next one starts from scratch.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { ReconcileInput, ReconcileReport } from './messages.js';

type Activities = ReturnType<typeof createActivities>;

const { reconcileSessions } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  // The schedule starts no pass while one is open, so a pass whose worker died must time out
  // soon: the activity heartbeats every few seconds whatever it is doing (activities/keep-alive.ts).
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 1 },
});

export async function ReconcileWorkflow(input: ReconcileInput): Promise<ReconcileReport> {
  return reconcileSessions(input);
}
