/**
 * One session, one workflow, in three steps: provision (or stop while provisioning), run until
 * the end (await connect → active → a reason to end), teardown.
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
  type ActivityOptions,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { SessionAuditEvent, createActivities } from '../activities/index.js';
import {
  FINAL_STATES,
  PERMANENT_ERROR_TYPES,
  activityHeartbeatSignal,
  appExitedSignal,
  awaitReadyUpdate,
  clientAttachedSignal,
  nodeTaskQueue,
  sessionSnapshotQuery,
  sessionStateSearchAttribute,
  sessionWatchQuery,
  stopSignal,
  type EndReason,
  type CarriedState,
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
const DURABLE: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', maximumInterval: '30s', nonRetryableErrorTypes: [...PERMANENT_ERROR_TYPES] },
};
const durable = proxyActivities<Activities>(DURABLE);

// A teardown's first try at revoking the browser credentials: an outage of their store does not
// hold the container's removal (the revocation is retried without a cap after it).
const firstRevocation = proxyActivities<Activities>({ startToCloseTimeout: '10 seconds', retry: { initialInterval: '1s', maximumAttempts: 2 } });

// Provisioning steps fail the session after a few attempts instead of retrying forever. A stop
// during provisioning waits for the running step to acknowledge, so that teardown cannot run
// before something the step is still creating exists.
const PROVISIONING_STEP: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: [...PERMANENT_ERROR_TYPES] },
};
const provisioningStep = proxyActivities<Activities>(PROVISIONING_STEP);

// Claiming a warm container takes milliseconds; when it fails, a cold start is the fallback, so
// it is tried once, briefly, instead of retried.
const WARM_CLAIM: ActivityOptions = {
  startToCloseTimeout: '20 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 1 },
};

/**
 * How long an activity for a session's node may take in all, waiting for the node's worker and
 * every attempt included: a node that stopped polling must not hold a session (its provisioning,
 * or its teardown) forever. The longest, a provisioning, takes at most three attempts of its
 * ready timeout. What a silent node still has is removed by its own reconciler when it is back.
 */
export const NODE_ACTIVITY_DEADLINE = '10 minutes';

/**
 * Activities that act on the session's node (its files, container, warm claim, removal), sent to
 * the node's own task queue; a session placed before nodes existed has none and uses the control
 * queue, as it always did.
 */
function onNode(session: LiveSession, options: ActivityOptions) {
  const node = session.snap.node;
  if (node === undefined) return proxyActivities<Activities>(options);
  return proxyActivities<Activities>({ ...options, taskQueue: nodeTaskQueue(workflowInfo().taskQueue, node), scheduleToCloseTimeout: NODE_ACTIVITY_DEADLINE });
}

// Placing a session reads and writes the node registry: brief, and retried a few times only.
const placement = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1s', maximumAttempts: 5, nonRetryableErrorTypes: [...PERMANENT_ERROR_TYPES] },
});

/** No session node has room for the session: it ends `no_capacity`, with nothing made for it. */
class NoCapacity extends Error {
  override name = 'NoCapacity';
}

function provisioner(session: LiveSession) {
  return onNode(session, {
    // The activity waits for the app window itself (heartbeating), so allow its whole budget.
    startToCloseTimeout: `${session.spec.timeouts.readySeconds + 60}s`,
    heartbeatTimeout: '10s',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: [...PERMANENT_ERROR_TYPES] },
  }).provisionSession;
}

/** Only sessions that began before the worker's session monitor run this activity (see startWatching). */
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

/** Why the session ends, once known. */
interface SessionEnd {
  reason: EndReason;
  message: string | null;
}

/**
 * The session's live state and its bookkeeping: the snapshot the queries answer, the stop
 * request, the clocks the signals move, and the writes of every change to the database and the
 * audit log.
 */
class LiveSession {
  snap: SessionSnapshot;
  stopRequested: boolean;
  stopReason: StopRequest['reason'];
  stopBy: string | null;
  /** Bumped by every signal so the main loop re-evaluates its deadlines. */
  wakeups = 0;
  appEnded = false;
  /** Watched by the worker's session monitor (signals), not by a watcher activity of its own. */
  monitored = false;
  /**
   * The last snapshot the database has: the API answers from it, so a client that reads the
   * session right after creating it sees the same state.
   */
  recorded: SessionSnapshot;
  private readonly watchScope = new CancellationScope();

  constructor(
    readonly spec: SessionSpec,
    carried: CarriedState | undefined,
  ) {
    this.snap = carried?.snapshot ?? initialSnapshot(spec);
    this.stopRequested = carried?.stopRequested ?? false;
    this.stopReason = carried?.stopReason ?? 'user_stop';
    this.stopBy = carried?.stopBy ?? null;
    this.recorded = this.snap;
  }

  installHandlers(): void {
    setHandler(sessionSnapshotQuery, () => this.snap);
    setHandler(stopSignal, (req) => {
      if (!this.stopRequested) {
        log.info('stop requested', { sessionId: this.spec.sessionId, by: req.by, reason: req.reason });
        this.stopReason = req.reason;
        this.stopBy = req.by;
      }
      this.stopRequested = true;
      this.wakeups++;
    });
    setHandler(clientAttachedSignal, ({ at }) => {
      if (this.snap.attachedAt === null) this.snap = { ...this.snap, attachedAt: at };
      this.noteActivity(at);
    });
    setHandler(activityHeartbeatSignal, ({ at }) => this.noteActivity(at));
    setHandler(appExitedSignal, ({ exitCode }) => {
      if (!this.appEnded) log.info('app exited', { sessionId: this.spec.sessionId, exitCode });
      this.appEnded = true;
      this.wakeups++;
    });
    setHandler(sessionWatchQuery, () => ({
      monitored: this.monitored,
      idleSeconds: this.spec.timeouts.idleSeconds,
      attachedAt: this.snap.attachedAt,
      lastActivityAt: this.snap.lastActivityAt,
    }));
    setHandler(awaitReadyUpdate, async () => {
      await condition(() => this.recorded.state === 'ready' || this.recorded.state === 'active' || FINAL_STATES.includes(this.recorded.state));
      return this.recorded;
    });
  }

  private noteActivity(at: number): void {
    if (this.snap.lastActivityAt === null || at > this.snap.lastActivityAt) this.snap = { ...this.snap, lastActivityAt: at };
    this.wakeups++;
  }

  /** Changes state and records it, even while the workflow is being cancelled. */
  async transition(state: SessionState, patch: Partial<SessionSnapshot> = {}): Promise<void> {
    this.snap = { ...this.snap, ...patch, state };
    upsertSearchAttributes([{ key: sessionStateSearchAttribute, value: state }]);
    const written = this.snap;
    await CancellationScope.nonCancellable(() => durable.recordSession(written));
    this.recorded = written;
  }

  /** Deterministic ids (workflow randomness is replayed): a retried write is recorded once. */
  audit(action: SessionAuditEvent['action'], actorId: string | null, details: Record<string, unknown>, sourceIp: string | null = null): Promise<void> {
    const { spec } = this;
    return CancellationScope.nonCancellable(() =>
      durable.recordAudit({ id: uuid4(), action, actorId, userId: spec.userId, targetType: 'session', targetId: spec.sessionId, sourceIp, details }),
    );
  }

  /**
   * From now on the app's container is watched: by the worker's session monitor, which observes
   * every session of its host in one loop and signals only what changed (first attach, activity,
   * the app's exit); sessions that began before it existed keep running a watcher activity of
   * their own for their whole life, which they replay.
   */
  startWatching(): void {
    const { spec, snap } = this;
    const container = snap.container;
    if (!container) return;
    if (patched('worker-session-monitor')) {
      this.monitored = true;
      return;
    }
    const input = {
      sessionId: spec.sessionId,
      containerId: container.id,
      pollSeconds: spec.timeouts.activityPollSeconds,
      idleSeconds: spec.timeouts.idleSeconds,
      alreadyAttached: snap.attachedAt !== null,
      lastActivityAt: snap.lastActivityAt,
    };
    // Before the monitor: the watcher activity; when it returns, the app has ended.
    this.watchScope.run(() => watcher(spec)(input)).then(
      () => {
        this.appEnded = true;
        this.wakeups++;
      },
      (err: unknown) => {
        if (!isCancellation(err)) log.warn('session watcher failed', { sessionId: spec.sessionId, error: failureMessage(err) });
      },
    );
  }

  stopWatching(): void {
    this.watchScope.cancel();
  }

  carried(): CarriedState {
    return { snapshot: this.snap, stopRequested: this.stopRequested, stopReason: this.stopReason, stopBy: this.stopBy };
  }
}

type Provisioned = { container: SessionContainer; start: SessionStart };
type ProvisionOutcome = { ok: true; provisioned: Provisioned } | { ok: false; error: unknown };

/**
 * Reserves the session's memory, CPU and a session slot on one node (core/node-registry.ts), held
 * for its whole life and given back by teardown. A warm container's node is tried first.
 */
async function place(session: LiveSession): Promise<void> {
  const { spec } = session;
  const { memoryMb, cpus } = spec.resources;
  const persistent = spec.profile === 'persist';
  const node = await placement.placeSession({
    sessionId: spec.sessionId,
    memoryMb,
    cpus,
    labels: spec.nodeLabels ?? {},
    warmNode: spec.warm?.node ?? null,
    ...(persistent ? { profile: { userId: spec.userId, app: spec.app } } : {}),
  });
  if (node === null) {
    const where = persistent ? `no active node this session may run on (a persistent profile's sessions run on the node that holds it)` : 'no active node';
    throw new NoCapacity(`${where} has ${memoryMb} MB of memory, ${cpus} CPUs and a session slot free`);
  }
  session.snap = { ...session.snap, node };
}

/** A warm container if the session was given one and it is usable, otherwise a cold start. */
async function provision(session: LiveSession): Promise<Provisioned> {
  const { spec } = session;
  // Sessions that began before nodes existed replay without a placement.
  if (patched('node-placement')) await place(session);
  // A warm container on another node than the one placed on (that node was full) is left to its
  // pool, which removes it as an orphan: the session starts cold where it was placed.
  if (spec.warm && (spec.warm.node === undefined || spec.warm.node === session.snap.node)) {
    try {
      // A pre-warmed container: certificate and routes exist; make it this session's.
      return { container: await onNode(session, WARM_CLAIM).claimWarmContainer({ spec, slot: spec.warm }), start: 'warm' };
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('warm container unusable, starting cold', { sessionId: spec.sessionId, error: failureMessage(err) });
      // Nothing of the warm container is kept (a claim that failed half-way may have left it
      // running with the pool's limits on about:blank): the cold start makes everything afresh.
      // Sessions that began before this replay without it.
      if (patched('fresh-container-after-failed-claim')) await onNode(session, DURABLE).removeSession({ sessionId: spec.sessionId });
    }
  }
  await prepareFiles(session);
  const container = await provisioner(session)(spec);
  await provisioningStep.addSessionRoutes({ sessionId: spec.sessionId, containerIp: container.ip });
  return { container, start: 'cold' };
}

/**
 * The session's certificate, key and token key on its node. The key is made on the node and never
 * leaves it; the HackStream CA, on the control queue, certifies its public half: a session node
 * needs no copy of the CA's key. Sessions that began before this replay the single step, in which
 * the node's worker issued the certificate itself.
 */
async function prepareFiles(session: LiveSession): Promise<void> {
  const { spec } = session;
  const notBefore = session.snap.startedAt;
  if (!patched('session-key-on-node')) {
    await onNode(session, PROVISIONING_STEP).prepareSessionFiles({ spec, notBefore });
    return;
  }
  const node = onNode(session, PROVISIONING_STEP);
  const { publicKeySpki } = await node.createSessionKey({ sessionId: spec.sessionId });
  const signed = await provisioningStep.signSessionCertificate({ sessionId: spec.sessionId, publicKeySpki, notBefore, lifetimeSeconds: spec.timeouts.maxDurationSeconds });
  await node.installSessionCertificate({ sessionId: spec.sessionId, ...signed });
}

/**
 * Step one: provisions the session, or stops provisioning when a stop arrives first. Returns
 * null once the session is ready, or why it ends.
 */
async function provisionOrStop(session: LiveSession): Promise<SessionEnd | null> {
  const { spec } = session;
  // Recorded while provisioning runs (a warm start takes less than these writes): both are
  // awaited before the next state change, so the projection never goes back in time.
  const bookkeeping = Promise.all([
    session.transition('provisioning'),
    session.audit('session.created', spec.userId, { app: spec.app, url: spec.url, quality: spec.quality }, spec.requestedFrom ?? null),
  ]);
  const scope = new CancellationScope();
  const outcome = scope.run(() => provision(session)).then(
    (provisioned): ProvisionOutcome => ({ ok: true, provisioned }),
    (error: unknown): ProvisionOutcome => ({ ok: false, error }),
  );
  const first = await Promise.race([outcome, condition(() => session.stopRequested).then((): 'stop' => 'stop')]);
  await bookkeeping;
  if (first === 'stop') {
    scope.cancel();
    await outcome; // whatever the step created exists before teardown starts
    return { reason: session.stopReason, message: null };
  }
  if (!first.ok) {
    if (first.error instanceof NoCapacity) return { reason: 'no_capacity', message: first.error.message };
    const message = failureMessage(first.error);
    log.warn('provisioning failed', { sessionId: spec.sessionId, error: message });
    return { reason: 'provision_failed', message };
  }
  await session.transition('ready', { ...first.provisioned, readyAt: Date.now() });
  return null;
}

/** Step two, the active phase: returns why the session must end, or continues as new. */
async function runUntilEnd(session: LiveSession, historyLimit: number): Promise<EndReason> {
  const { idleSeconds, connectSeconds, maxDurationSeconds } = session.spec.timeouts;
  for (;;) {
    if (session.stopRequested) return session.stopReason;
    if (session.appEnded) return 'app_exited';
    if (session.snap.attachedAt !== null && session.snap.state === 'ready') {
      await session.transition('active');
      // A stop (or the app's exit) that arrived while the change was being recorded has already
      // counted as a wake-up: look again before waiting for the next one, which may be the idle timeout.
      if (patched('recheck-after-activation')) continue;
    }

    const { snap } = session;
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
      session.stopWatching();
      await condition(allHandlersFinished);
      return await continueAsNew<typeof SessionWorkflow>({ spec: session.spec, carried: session.carried(), historyLimit });
    }

    const seen = session.wakeups;
    await condition(() => session.wakeups !== seen, Math.min(idleAt, connectAt, maxAt) - now);
  }
}

/** Removes everything the session had (the order is activities/session-removal.ts's). */
async function removeSession(session: LiveSession): Promise<void> {
  const { sessionId } = session.spec;
  if (patched('remove-session-in-one-activity')) {
    if (session.stopRequested && session.stopReason === 'node_lost') {
      // The node is gone: what the control side holds of the session goes now; its container
      // goes when the node is back, by the node's reconciler, before it takes work again.
      await durable.removeSessionRoutes({ sessionId });
      await durable.revokeSessionCredentials({ sessionId });
      return;
    }
    // The doors close where the ingress and the credentials are, on the control queue: a node's
    // own removal reaches neither on another host. Sessions that began before this replay without it.
    if (patched('doors-closed-on-control')) {
      await durable.removeSessionRoutes({ sessionId });
      // A Redis outage must not keep the container running (session-removal.ts's order): after a
      // brief try the node removes the rest, and the revocation is retried until it is done.
      const revoked = await firstRevocation.revokeSessionCredentials({ sessionId }).then(
        () => true,
        () => false,
      );
      await removeOnNode(session);
      if (!revoked) await durable.revokeSessionCredentials({ sessionId });
      return;
    }
    await removeOnNode(session);
    return;
  }
  // Replaying a teardown that began before removeSession existed: its three steps, as recorded.
  await durable.removeSessionRoutes({ sessionId });
  await durable.revokeSessionCredentials({ sessionId });
  await durable.teardownSession({ sessionId });
}

/** Everything of the session on its node's host, by the node's worker. */
async function removeOnNode(session: LiveSession): Promise<void> {
  const { sessionId, userId, app, profile } = session.spec;
  try {
    const removed = await onNode(session, DURABLE).removeSession({ sessionId });
    if (removed.appQuit && !removed.appQuit.quit) {
      log.warn('the app did not quit in time: what it had not saved to its profile is lost', { sessionId, app, waitedMs: removed.appQuit.ms });
    } else if (removed.appQuit) {
      log.info('the app saved its profile and quit', { sessionId, app, ms: removed.appQuit.ms });
    }
    // What the profile uses is what the user's storage quota counts from now on.
    if (profile === 'persist' && removed.profile) await durable.recordProfileUsage({ userId, app, ...removed.profile });
  } catch (err) {
    // Only a node that did not remove it within its deadline gets here (a removal is retried
    // without a cap until then): the session ends all the same, and the node's reconciler
    // removes its container when it is back, the control side's reconciler its routes and
    // credentials.
    if (!(err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_CLOSE')) throw err;
    log.warn('the session node did not take the removal', { sessionId, node: session.snap.node, error: failureMessage(err) });
  }
}

/** Step three, on every path out: teardown, completed even when the workflow was cancelled. */
function teardown(session: LiveSession, end: SessionEnd): Promise<SessionSnapshot> {
  const { spec } = session;
  return CancellationScope.nonCancellable(async () => {
    session.stopWatching();
    await session.transition('stopping', { reason: end.reason, message: end.message });
    await removeSession(session);
    // Only once the container is gone may another session have its room (a no-op if never placed).
    if (patched('node-placement')) await durable.releasePlacement({ sessionId: spec.sessionId });
    const finalState: SessionState = STOPPED_REASONS.includes(end.reason) ? 'stopped' : 'failed';
    await session.transition(finalState, { endedAt: Date.now() });
    const action = finalState === 'failed' ? 'session.failed' : EXPIRY_REASONS.includes(end.reason) ? 'session.expired' : 'session.stopped';
    await session.audit(action, session.stopRequested ? session.stopBy : null, { reason: end.reason, ...(end.message ? { message: end.message } : {}) });
    await condition(allHandlersFinished);
    log.info('session ended', { sessionId: spec.sessionId, state: finalState, reason: end.reason });
    return session.snap;
  });
}

export async function SessionWorkflow(input: SessionWorkflowInput & { historyLimit?: number }): Promise<SessionSnapshot> {
  const session = new LiveSession(input.spec, input.carried);
  session.installHandlers();
  let end: SessionEnd | null = null;
  try {
    if (!input.carried) end = await provisionOrStop(session);
    else if (session.stopRequested) end = { reason: session.stopReason, message: null };
    if (end === null) {
      session.startWatching();
      end = { reason: await runUntilEnd(session, input.historyLimit ?? DEFAULT_HISTORY_LIMIT), message: null };
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    end = { reason: 'cancelled', message: null };
  }
  return teardown(session, end);
}
