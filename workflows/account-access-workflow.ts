/**
 * Carries an account change (password reset or change, role change, disable) to the account's
 * running sessions. The API starts it before it commits the change, so that with Temporal
 * unreachable the request fails before anything changed; once started, it is durable: it waits
 * until the change is in the database (if it never gets there, the request failed, and nothing
 * is done), then, for a disabled account, stops its sessions, and revokes each session's browser
 * credentials and makes its container refuse the native tokens issued before the change.
 */
import { ApplicationFailure, getExternalWorkflowHandle, log, proxyActivities, sleep } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { sessionWorkflowId, stopSignal, type AccountAccessChange, type AccountAccessResult } from './messages.js';

type Activities = ReturnType<typeof createActivities>;

const { accountState, liveSessionsOf, endSessionAccess } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  // One session's files that cannot be written do not hold the others up, nor get retried forever.
  retry: { initialInterval: '1s', maximumInterval: '30s', nonRetryableErrorTypes: ['SessionFilesNotWritableError'] },
});

/** How long the API may take to commit after starting this (its database write follows at once). */
export const COMMIT_WAIT_SECONDS = 120;
/**
 * How often the database is read meanwhile: often at first, when the commit is due, then less
 * (a request that failed leaves this waiting in vain). The first read after the commit also
 * dates the change: native tokens issued until then are refused, those minted with the old
 * credentials while the commit was in flight included; one issued with new ones in that fraction
 * of a second is refused too, and the client asks for another.
 */
const pollDelayMs = (waitedMs: number): number => (waitedMs < 10_000 ? 250 : 2_000);

/** The account as first read with the change in it; null if the change never got there. */
async function committed(change: AccountAccessChange): Promise<{ disabled: boolean; readAt: number } | null> {
  for (let waited = 0; waited <= COMMIT_WAIT_SECONDS * 1000; waited += pollDelayMs(waited)) {
    const state = await accountState(change.userId);
    if (state && state.tokenVersion >= change.tokenVersion) return state;
    await sleep(pollDelayMs(waited));
  }
  return null;
}

export async function AccountAccessWorkflow(change: AccountAccessChange): Promise<AccountAccessResult> {
  const state = await committed(change);
  if (!state) {
    log.warn('account change never committed: nothing to apply', { userId: change.userId, tokenVersion: change.tokenVersion });
    return { applied: false, sessions: 0, stopped: 0 };
  }
  const sessionIds = await liveSessionsOf(change.userId);
  let stopped = 0;
  // Stops first: each is one signal, and ends every credential with the container. A change
  // enabled again meanwhile is decided by the later change, not this one.
  if (change.stopSessions && state.disabled) {
    for (const sessionId of sessionIds) if (await stopSession(sessionId, change.by)) stopped++;
  }
  // Each session on its own: one that fails does not keep the others from being reached.
  const reached = await Promise.allSettled(sessionIds.map((sessionId) => endSessionAccess({ sessionId, refuseNativeIssuedUntil: state.readAt })));
  reached.forEach((r, i) => {
    if (r.status === 'rejected') {
      const failure = r.reason as Error & { cause?: Error };
      log.error('session not reached by an account change', { sessionId: sessionIds[i], error: failure.cause?.message ?? failure.message });
    }
  });
  return { applied: true, sessions: sessionIds.length, stopped };
}

/** True if asked to stop; false if its workflow is over already. */
async function stopSession(sessionId: string, by: string): Promise<boolean> {
  try {
    await getExternalWorkflowHandle(sessionWorkflowId(sessionId)).signal(stopSignal, { reason: 'admin_stop', by });
    return true;
  } catch (err) {
    if (err instanceof ApplicationFailure) {
      log.info('session not stopped: its workflow is over', { sessionId, error: err.message });
      return false;
    }
    throw err;
  }
}
