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
  // It heartbeats once per session it looks at; removing one takes seconds.
  heartbeatTimeout: '2 minutes',
  retry: { maximumAttempts: 1 },
});

export async function ReconcileWorkflow(input: ReconcileInput): Promise<ReconcileReport> {
  return reconcileSessions(input);
}
