/**
 * One session, one workflow: provision → await connect → active → teardown.
 *
 * The workflow is the single source of truth for the session's lifecycle; every state change is
 * written to the database by the `recordSession` activity (a projection for listing and
 * ownership checks). Teardown runs on every path out: stop, idle, connect deadline, maximum
 * duration, the app exiting, failed provisioning and cancellation.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { SessionAuditEvent, createActivities } from '../activities/index.js';
import {
  FINAL_STATES,
  PERMANENT_ERROR_TYPES,
  activityHeartbeatSignal,
  awaitReadyUpdate,
  clientAttachedSignal,
  sessionSnapshotQuery,
  sessionStateSearchAttribute,
  stopSignal,
  type EndReason,
  type SessionContainer,
  type SessionSnapshot,
  type SessionSpec,
  type SessionStart,
  type SessionState,
  type SessionWorkflowInput,
  type StopRequest,
} from './messages.js';

type Activities = ReturnType<typeof createActivities>;

/** Continue as new past this many history events (or when the server suggests it). */
export const DEFAULT_HISTORY_LIMIT = 2000;

/** Ends that the session's own limits caused: recorded as `session.expired`. */
const EXPIRY_REASONS: readonly EndReason[] = ['idle', 'connect_timeout', 'max_duration'];
const STOPPED_REASONS: readonly EndReason[] = ['user_stop', 'admin_stop', 'idle', 'connect_timeout', 'max_duration', 'app_exited', 'cancelled'];

// Database writes and container removal must eventually happen: retry without a cap, backing off.
const durable = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', maximumInterval: '30s', nonRetryableErrorTypes: [...PERMANENT_ERROR_TYPES] },
});

// Provisioning steps fail the session after a few attempts instead of retrying forever. A stop
// during provisioning waits for the running step to acknowledge, so that teardown cannot run
// before something the step is still creating exists.
const provisioningStep = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: [...PERMANENT_ERROR_TYPES] },
});

// Claiming a warm container takes milliseconds; when it fails, a cold start is the fallback, so
// it is tried once, briefly, instead of retried.
const warmClaim = proxyActivities<Activities>({
  startToCloseTimeout: '20 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 1 },
});

function provisioner(spec: SessionSpec) {
  return proxyActivities<Activities>({
    // The activity waits for the app window itself (heartbeating), so allow its whole budget.
    startToCloseTimeout: `${spec.timeouts.readySeconds + 60}s`,
    heartbeatTimeout: '10s',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: [...PERMANENT_ERROR_TYPES] },
  }).provisionSession;
}

function watcher(spec: SessionSpec) {
  return proxyActivities<Activities>({
    startToCloseTimeout: `${spec.timeouts.maxDurationSeconds + 3600}s`,
    heartbeatTimeout: `${Math.max(30, spec.timeouts.activityPollSeconds * 4)}s`,
    retry: { initialInterval: '1s', maximumInterval: '30s' },
  }).watchSession;
}

export function initialSnapshot(spec: SessionSpec): SessionSnapshot {
  return {
    sessionId: spec.sessionId,
    userId: spec.userId,
    app: spec.app,
    state: 'provisioning',
    reason: null,
    message: null,
    url: spec.url,
    quality: spec.quality,
    container: null,
    requestedAt: spec.requestedAt,
    startedAt: Date.now(),
    readyAt: null,
    attachedAt: null,
    lastActivityAt: null,
    endedAt: null,
  };
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? (err.cause ?? err) : err;
  if (cause instanceof ApplicationFailure && cause.type) return `${cause.type}: ${cause.message}`;
  return cause instanceof Error ? cause.message : String(cause);
}

export async function SessionWorkflow(input: SessionWorkflowInput & { historyLimit?: number }): Promise<SessionSnapshot> {
  const { spec } = input;
  const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  let snap: SessionSnapshot = input.carried?.snapshot ?? initialSnapshot(spec);
  let stopRequested = input.carried?.stopRequested ?? false;
  let stopReason: StopRequest['reason'] = input.carried?.stopReason ?? 'user_stop';
  let stopBy: string | null = input.carried?.stopBy ?? null;
  // Bumped by every signal so the main loop re-evaluates its deadlines.
  let wakeups = 0;

  setHandler(sessionSnapshotQuery, () => snap);
  setHandler(stopSignal, (req) => {
    if (!stopRequested) {
      log.info('stop requested', { sessionId: spec.sessionId, by: req.by, reason: req.reason });
      stopReason = req.reason;
      stopBy = req.by;
    }
    stopRequested = true;
    wakeups++;
  });
  const noteActivity = (at: number) => {
    if (snap.lastActivityAt === null || at > snap.lastActivityAt) snap = { ...snap, lastActivityAt: at };
    wakeups++;
  };
  setHandler(clientAttachedSignal, ({ at }) => {
    if (snap.attachedAt === null) snap = { ...snap, attachedAt: at };
    noteActivity(at);
  });
  setHandler(activityHeartbeatSignal, ({ at }) => noteActivity(at));
  // The last snapshot the database has: the API answers from it, so a client that reads the
  // session right after creating it sees the same state.
  let recorded: SessionSnapshot = snap;
  setHandler(awaitReadyUpdate, async () => {
    await condition(() => recorded.state === 'ready' || recorded.state === 'active' || FINAL_STATES.includes(recorded.state));
    return recorded;
  });

  // Deterministic ids (workflow randomness is replayed): a retried write is recorded once.
  const audit = (action: SessionAuditEvent['action'], actorId: string | null, details: Record<string, unknown>, sourceIp: string | null = null) =>
    CancellationScope.nonCancellable(() =>
      durable.recordAudit({ id: uuid4(), action, actorId, userId: spec.userId, targetType: 'session', targetId: spec.sessionId, sourceIp, details }),
    );

  const transition = async (state: SessionState, patch: Partial<SessionSnapshot> = {}) => {
    snap = { ...snap, ...patch, state };
    upsertSearchAttributes([{ key: sessionStateSearchAttribute, value: state }]);
    const written = snap;
    // A state change is recorded even when the workflow is being cancelled.
    await CancellationScope.nonCancellable(() => durable.recordSession(written));
    recorded = written;
  };

  const watchScope = new CancellationScope();
  let appEnded = false;
  const startWatching = () => {
    const container = snap.container;
    if (!container) return;
    watchScope
      .run(() =>
        watcher(spec)({
          sessionId: spec.sessionId,
          containerId: container.id,
          pollSeconds: spec.timeouts.activityPollSeconds,
          idleSeconds: spec.timeouts.idleSeconds,
          alreadyAttached: snap.attachedAt !== null,
          lastActivityAt: snap.lastActivityAt,
        }),
      )
      .then(
        () => {
          appEnded = true;
          wakeups++;
        },
        (err: unknown) => {
          if (!isCancellation(err)) log.warn('session watcher failed', { sessionId: spec.sessionId, error: failureMessage(err) });
        },
      );
  };

  let reason: EndReason | null = null;
  let message: string | null = null;
  try {
    if (!input.carried) {
      // Recorded while provisioning runs (a warm start takes less than these writes): both are
      // awaited before the next state change, so the projection never goes back in time.
      const bookkeeping = Promise.all([
        transition('provisioning'),
        audit('session.created', spec.userId, { app: spec.app, url: spec.url, quality: spec.quality }, spec.requestedFrom ?? null),
      ]);
      const provisionScope = new CancellationScope();
      const provisioning = provisionScope.run(async (): Promise<{ container: SessionContainer; start: SessionStart }> => {
        if (spec.warm) {
          try {
            // A pre-warmed container: certificate and routes exist; make it this session's.
            return { container: await warmClaim.claimWarmContainer({ spec, slot: spec.warm }), start: 'warm' };
          } catch (err) {
            if (isCancellation(err)) throw err;
            log.warn('warm container unusable, starting cold', { sessionId: spec.sessionId, error: failureMessage(err) });
          }
        }
        await provisioningStep.prepareSessionFiles({ spec, notBefore: snap.startedAt });
        const container = await provisioner(spec)(spec);
        await provisioningStep.addSessionRoutes({ sessionId: spec.sessionId, containerIp: container.ip });
        return { container, start: 'cold' };
      });
      // Assigned in callbacks: the cast keeps TypeScript from narrowing it to null here.
      let provisioned = null as Awaited<typeof provisioning> | null;
      let provisionError: unknown = null;
      const settled = provisioning.then(
        (c) => void (provisioned = c),
        (err: unknown) => void (provisionError = err),
      );
      await condition(() => provisioned !== null || provisionError !== null || stopRequested);
      await bookkeeping;
      if (provisioned === null && provisionError === null) {
        provisionScope.cancel();
        await settled;
        reason = stopReason;
      } else if (provisionError !== null) {
        reason = 'provision_failed';
        message = failureMessage(provisionError);
        log.warn('provisioning failed', { sessionId: spec.sessionId, error: message });
      } else {
        const { container, start } = provisioned!;
        await transition('ready', { container, start, readyAt: Date.now() });
      }
    } else if (stopRequested) {
      reason = stopReason;
    }

    if (reason === null) {
      startWatching();
      reason = await runUntilEnd();
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    reason = 'cancelled';
  }

  // Teardown must complete even when the workflow itself was cancelled.
  return await CancellationScope.nonCancellable(async () => {
    watchScope.cancel();
    const finalReason = reason ?? 'cancelled';
    await transition('stopping', { reason: finalReason, message });
    // Close the doors first (routes, credentials), then remove the container and its secrets.
    await durable.removeSessionRoutes({ sessionId: spec.sessionId });
    await durable.revokeSessionCredentials({ sessionId: spec.sessionId });
    await durable.teardownSession({ sessionId: spec.sessionId });
    const finalState: SessionState = STOPPED_REASONS.includes(finalReason) ? 'stopped' : 'failed';
    await transition(finalState, { endedAt: Date.now() });
    const action = finalState === 'failed' ? 'session.failed' : EXPIRY_REASONS.includes(finalReason) ? 'session.expired' : 'session.stopped';
    await audit(action, stopRequested ? stopBy : null, { reason: finalReason, ...(message ? { message } : {}) });
    await condition(allHandlersFinished);
    log.info('session ended', { sessionId: spec.sessionId, state: finalState, reason: finalReason });
    return snap;
  });

  /** The active phase: returns why the session must end, or continues as new. */
  async function runUntilEnd(): Promise<EndReason> {
    const { idleSeconds, connectSeconds, maxDurationSeconds } = spec.timeouts;
    for (;;) {
      if (stopRequested) return stopReason;
      if (appEnded) return 'app_exited';
      if (snap.attachedAt !== null && snap.state === 'ready') await transition('active');

      const now = Date.now();
      const readyAt = snap.readyAt ?? now;
      const idleAt = Math.max(snap.lastActivityAt ?? readyAt, readyAt) + idleSeconds * 1000;
      const connectAt = snap.attachedAt === null ? readyAt + connectSeconds * 1000 : Infinity;
      const maxAt = snap.startedAt + maxDurationSeconds * 1000;
      if (now >= maxAt) return 'max_duration';
      if (now >= idleAt) return 'idle';
      if (now >= connectAt) return 'connect_timeout';

      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > historyLimit) {
        watchScope.cancel();
        await condition(allHandlersFinished);
        return await continueAsNew<typeof SessionWorkflow>({ spec, carried: { snapshot: snap, stopRequested, stopReason, stopBy }, historyLimit });
      }

      const seen = wakeups;
      await condition(() => wakeups !== seen, Math.min(idleAt, connectAt, maxAt) - now);
    }
  }
}
