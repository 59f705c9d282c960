/**
 * Carries an account change (password reset or change, role change, disable) to the account's
 * running sessions. The API starts it before it commits the change, so that with Temporal
 * unreachable the request fails before anything changed; once started, it is durable: it waits
 * until the change is in the database (if it never gets there, the request failed, and nothing
 * is done), then revokes the sessions' browser credentials, makes their containers refuse the
 * native tokens issued before the change and, for a disabled account, stops them.
 */
import { ApplicationFailure, getExternalWorkflowHandle, log, proxyActivities, sleep } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { sessionWorkflowId, stopSignal, type AccountAccessChange, type AccountAccessResult } from './messages.js';

type Activities = ReturnType<typeof createActivities>;

const { accountState, liveSessionsOf, endSessionsAccess } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

/** How long the API may take to commit after starting this (its database write follows at once). */
export const COMMIT_WAIT_SECONDS = 120;

async function committed(change: AccountAccessChange): Promise<boolean> {
  for (let waited = 0; waited <= COMMIT_WAIT_SECONDS; waited++) {
    const state = await accountState(change.userId);
    if (state && state.tokenVersion >= change.tokenVersion) return true;
    await sleep('1 second');
  }
  return false;
}

export async function AccountAccessWorkflow(change: AccountAccessChange): Promise<AccountAccessResult> {
  if (!(await committed(change))) {
    log.warn('account change never committed: nothing to apply', { userId: change.userId, tokenVersion: change.tokenVersion });
    return { applied: false, sessions: 0 };
  }
  const sessionIds = await liveSessionsOf(change.userId);
  await endSessionsAccess({ sessionIds, refuseNativeIssuedUntil: change.refuseNativeIssuedUntil });
  // Enabled again meanwhile: a later change decides, not this one.
  if (change.stopSessions && (await accountState(change.userId))?.disabled) {
    for (const sessionId of sessionIds) await stopSession(sessionId, change.by);
  }
  return { applied: true, sessions: sessionIds.length };
}

async function stopSession(sessionId: string, by: string): Promise<void> {
  try {
    await getExternalWorkflowHandle(sessionWorkflowId(sessionId)).signal(stopSignal, { reason: 'admin_stop', by });
  } catch (err) {
    // The session ended meanwhile: nothing to stop.
    if (err instanceof ApplicationFailure) {
      log.info('session not stopped: its workflow is over', { sessionId, error: err.message });
      return;
    }
    throw err;
  }
}
