/**
 * The session use cases behind the routes. The API never touches Docker: it validates, decides
 * the session's parameters, and starts, signals or reads the session workflow; listings and
 * ownership checks come from the database projection the workflow writes.
 */
import { randomUUID } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import type { ApiConfig } from '../../core/config.js';
import { Session } from '../../core/db/entities.js';
import type { Database } from '../../core/db/orm.js';
import { WARM_PROFILES } from '../../core/catalog.js';
import type { Logger } from '../../core/logger.js';
import {
  FINAL_STATES,
  WARM_POLICY,
  appSearchAttribute,
  awaitReadyUpdate,
  sessionStateSearchAttribute,
  sessionWorkflowId,
  stopSignal,
  userIdSearchAttribute,
  type SessionSnapshot,
  type SessionSpec,
  type SessionStart,
  type SessionState,
  type StopRequest,
  type WarmSlot,
} from '../../workflows/messages.js';
import type { SessionWorkflow } from '../../workflows/session-workflow.js';
import { HttpError, notFound } from '../http-error.js';
import type { AuthenticatedUser } from '../request-context.js';
import type { CreateSessionBody } from '../validation.js';
import type { AuditLog } from '../../core/audit-log.js';
import type { ConnectDescriptor, ConnectDescriptors } from '../connect/connect-descriptor.js';
import type { ApiMetrics } from '../metrics.js';
import type { QuotaService } from '../quotas/quota-service.js';
import type { PoolClaims } from './pool-claims.js';
import { rowSnapshot, sessionView, snapshotView, type SessionView } from './session-view.js';

export interface SessionServiceDeps {
  config: ApiConfig;
  db: Database;
  temporal: Client;
  logger: Logger;
  descriptors: ConnectDescriptors;
  quotas: QuotaService;
  audit: AuditLog;
  pools: PoolClaims;
  metrics: ApiMetrics;
}

/** A session with fresh credentials to attach to it. */
export type ConnectableSessionView = SessionView & { connect: ConnectDescriptor; start?: SessionStart };

/** How long `stop` waits for teardown before answering 202 (still stopping). */
const STOP_WAIT_MS = 15_000;

export class SessionService {
  constructor(private readonly deps: SessionServiceDeps) {}

  /**
   * Starts a session within the user's quota and answers once it is ready (or has failed),
   * within the create timeout.
   */
  async create(user: AuthenticatedUser, body: CreateSessionBody, ip: string): Promise<ConnectableSessionView> {
    const { config, temporal, logger, quotas, db } = this.deps;
    const s = config.session;
    const policy = config.policies[user.role];
    if (!policy.apps.includes(body.app)) {
      throw new HttpError(403, 'app_not_allowed', `the ${user.role} role may not start ${body.app} (allowed: ${policy.apps.join(', ') || 'none'})`);
    }
    const requestedAt = Date.now();
    const sessionPolicy = { clipboard: policy.clipboard, fileTransfer: policy.fileTransfer };
    // A warm container was started with WARM_POLICY baked into xpra's command line, and mounts
    // nothing of the user's: only sessions that need exactly that can take one.
    const canTakeWarm =
      WARM_PROFILES.includes(body.profile) && sessionPolicy.clipboard === WARM_POLICY.clipboard && sessionPolicy.fileTransfer === WARM_POLICY.fileTransfer;
    // The row written under the quota lock is the reservation; the workflow then owns it. The
    // claim happens inside it too, so a user over quota never takes a warm container.
    const spec = await quotas.reserve(user.id, async (quota): Promise<SessionSpec> => {
      const warm: WarmSlot | null = canTakeWarm ? await this.deps.pools.claim(body.app, body.quality) : null;
      // A warm container's certificate and routes were made for the id it was warmed under.
      const sessionId = warm?.sessionId ?? randomUUID();
      const em = db.em.fork();
      em.create(Session, { id: sessionId, userId: user.id, app: body.app, state: 'provisioning', url: body.url ?? null, quality: body.quality, requestedAt: new Date(requestedAt) });
      await em.flush();
      return {
        sessionId,
        userId: user.id,
        app: body.app,
        url: body.url ?? null,
        quality: body.quality,
        profile: body.profile,
        image: s.image,
        resources: { memoryMb: quota.memoryMb, cpus: quota.cpus, shmMb: s.shmMb, pidsLimit: s.pidsLimit },
        timeouts: {
          idleSeconds: quota.idleTimeoutSeconds,
          connectSeconds: s.connectTimeoutSeconds,
          maxDurationSeconds: quota.maxDurationSeconds,
          readySeconds: s.readyTimeoutSeconds,
          activityPollSeconds: s.activityPollSeconds,
        },
        policy: sessionPolicy,
        requestedAt,
        requestedFrom: ip,
        ...(warm ? { warm } : {}),
      };
    });
    const sessionId = spec.sessionId;
    const workflowId = sessionWorkflowId(spec.sessionId);
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof SessionWorkflow>('SessionWorkflow', {
      workflowId,
      taskQueue: config.temporal.taskQueue,
      args: [{ spec }],
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [
        { key: userIdSearchAttribute, value: user.id },
        { key: appSearchAttribute, value: spec.app },
        { key: sessionStateSearchAttribute, value: 'provisioning' },
      ],
    });
    logger.info('creating session', { sessionId: spec.sessionId, userId: user.id, app: spec.app, warm: spec.warm !== undefined });

    // The deadline cancels the wait, not the session: on timeout it is stopped explicitly.
    const deadline = AbortSignal.timeout(config.createTimeoutSeconds * 1000);
    let snapshot: SessionSnapshot;
    try {
      snapshot = await temporal.withAbortSignal(deadline, () =>
        temporal.workflow.executeUpdateWithStart(awaitReadyUpdate, { startWorkflowOperation }),
      );
    } catch (err) {
      if (!deadline.aborted) {
        // The workflow never started (Temporal unreachable): give the reservation back.
        await db.em.fork().nativeUpdate(Session, { id: sessionId, state: 'provisioning' }, { state: 'failed', reason: 'provision_failed', message: 'could not start the session workflow', endedAt: new Date() });
        throw err;
      }
      await this.signalStop(spec.sessionId, user.id, 'provision_timeout');
      throw new HttpError(
        504,
        'session_timeout',
        `session ${spec.sessionId} was not ready within ${config.createTimeoutSeconds}s and is being torn down`,
        {},
        { session_id: spec.sessionId },
      );
    }
    if (snapshot.state === 'failed' || snapshot.state === 'stopped') {
      throw new HttpError(
        503,
        'session_failed',
        `session ${spec.sessionId} could not be started: ${snapshot.message ?? snapshot.reason ?? 'unknown reason'}`,
        {},
        { session_id: spec.sessionId },
      );
    }
    const connect = await this.issueConnect(user, snapshot, ip);
    this.deps.metrics.sessionStart.observe({ start: snapshot.start ?? 'cold' }, (Date.now() - requestedAt) / 1000);
    return { ...snapshotView(snapshot), start: snapshot.start ?? 'cold', connect };
  }

  /** Fresh one-time credentials for a running session of the caller's. */
  async connect(user: AuthenticatedUser, sessionId: string, ip: string): Promise<ConnectableSessionView> {
    const row = await this.owned(user, sessionId);
    if (row.state !== 'ready' && row.state !== 'active') {
      throw new HttpError(409, 'session_not_running', `session ${sessionId} is ${row.state}; only a running session can be connected to`);
    }
    const snapshot = rowSnapshot(row);
    return { ...snapshotView(snapshot), connect: await this.issueConnect(user, snapshot, ip) };
  }

  /** Stops every running session of a user (an admin disabled them); returns how many. */
  async stopAllOf(userId: string, by: string): Promise<number> {
    const running = await this.deps.db.em.fork().find(Session, { userId, state: { $nin: [...FINAL_STATES] } });
    for (const row of running) await this.signalStop(row.id, by, 'admin_stop');
    return running.length;
  }

  private async issueConnect(user: AuthenticatedUser, snapshot: SessionSnapshot, ip: string): Promise<ConnectDescriptor> {
    const descriptor = await this.deps.descriptors.issue(snapshot);
    await this.deps.audit.record({
      action: 'connect.token_issued',
      actorId: user.id,
      userId: snapshot.userId,
      targetType: 'session',
      targetId: snapshot.sessionId,
      sourceIp: ip,
      details: { paths: ['browser', 'native'], expires_at: descriptor.expires_at },
    });
    return descriptor;
  }

  async list(user: AuthenticatedUser, opts: { all: boolean; limit: number }): Promise<SessionView[]> {
    if (opts.all && user.role !== 'admin') throw new HttpError(403, 'forbidden', 'only admins may list all sessions');
    const rows = await this.deps.db.em
      .fork()
      .find(Session, opts.all ? {} : { userId: user.id }, { orderBy: { requestedAt: 'desc' }, limit: opts.limit });
    return rows.map((r) => sessionView(r));
  }

  async get(user: AuthenticatedUser, sessionId: string): Promise<SessionView> {
    return sessionView(await this.owned(user, sessionId));
  }

  /**
   * Asks the session to stop and waits briefly for teardown. Idempotent: stopping a stopped
   * session answers with its final state.
   */
  async stop(user: AuthenticatedUser, sessionId: string): Promise<{ view: SessionView; done: boolean }> {
    const row = await this.owned(user, sessionId);
    if (!FINAL_STATES.includes(row.state as SessionState)) {
      await this.signalStop(sessionId, user.id);
      const { temporal } = this.deps;
      const handle = temporal.workflow.getHandle<typeof SessionWorkflow>(sessionWorkflowId(sessionId));
      const deadline = AbortSignal.timeout(STOP_WAIT_MS);
      try {
        const final = await temporal.withAbortSignal(deadline, () => handle.result());
        return { view: snapshotView(final), done: true };
      } catch (err) {
        if (!deadline.aborted) throw err;
        const view = await this.get(user, sessionId);
        return { view: { ...view, state: FINAL_STATES.includes(view.state as SessionState) ? view.state : 'stopping' }, done: false };
      }
    }
    return { view: sessionView(row), done: true };
  }

  private async signalStop(sessionId: string, by: string, reason: StopRequest['reason'] = 'user_stop'): Promise<void> {
    try {
      await this.deps.temporal.workflow.getHandle(sessionWorkflowId(sessionId)).signal(stopSignal, { reason, by });
    } catch (err) {
      // Already finished: nothing left to stop.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }

  /** The session if it exists and the caller may see it; 404 otherwise (no hint either way). */
  private async owned(user: AuthenticatedUser, sessionId: string): Promise<Session> {
    const row = await this.deps.db.em.fork().findOne(Session, { id: sessionId });
    if (!row || (row.userId !== user.id && user.role !== 'admin')) throw notFound(`no session ${sessionId}`);
    return row;
  }
}
