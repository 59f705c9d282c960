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
import type { AppDefinition } from '../../core/app-catalog.js';
import type { ApiConfig } from '../../core/config.js';
import type { SessionRows } from '../../core/session-rows.js';
import { WARM_PROFILES } from '../../core/catalog.js';
import type { Logger } from '../../core/logger.js';
import {
  FINAL_STATES,
  appSearchAttribute,
  awaitReadyUpdate,
  sessionStateSearchAttribute,
  sessionWorkflowId,
  stopSignal,
  userIdSearchAttribute,
  type SessionSnapshot,
  type SessionSpec,
  type StopRequest,
} from '../../workflows/messages.js';
import { appPolicy, canTakeWarmContainer, sessionSpec } from '../../workflows/session-spec.js';
import { placementLabels } from '../../core/node-names.js';
import { sessionPublicKeyHex } from '../../core/session-token-key.js';
import type { SessionWorkflow } from '../../workflows/session-workflow.js';
import { HttpError, notFound } from '../http-error.js';
import type { AuthenticatedUser } from '../request-context.js';
import type { CreateSessionBody, ListSessionsQuery } from '../validation.js';
import type { AuditLog } from '../../core/audit-log.js';
import type { ConnectDescriptor, ConnectDescriptors } from '../connect/connect-descriptor.js';
import type { ApiMetrics } from '../metrics.js';
import type { RoleEgressOpenings } from '../quotas/role-egress.js';
import type { Quota, QuotaService, QuotaUsage } from '../quotas/quota-service.js';
import type { PoolClaims } from './pool-claims.js';
import type { ConnectableSessionView } from '../contract/responses.js';
import { snapshotView, type SessionView } from './session-view.js';

export interface SessionServiceDeps {
  config: ApiConfig;
  rows: SessionRows;
  temporal: Client;
  logger: Logger;
  descriptors: ConnectDescriptors;
  quotas: QuotaService;
  egress: Pick<RoleEgressOpenings, 'effective'>;
  audit: AuditLog;
  pools: PoolClaims;
  metrics: ApiMetrics;
}

/** A session with fresh credentials to attach to it. */
export type { ConnectableSessionView };

/** How long `stop` waits for teardown before answering 202 (still stopping). */
const STOP_WAIT_MS = 15_000;

export class SessionService {
  constructor(private readonly deps: SessionServiceDeps) {}

  /**
   * Starts a session within the user's quota and answers once it is ready (or has failed),
   * within the create timeout.
   */
  async create(user: AuthenticatedUser, body: CreateSessionBody, ip: string): Promise<ConnectableSessionView> {
    const { apps, policies } = this.deps.config;
    const app = apps[body.app];
    if (!app) {
      throw new HttpError(400, 'invalid_request', `app: unknown app (available: ${Object.keys(apps).join(', ')})`);
    }
    const policy = policies[user.role];
    if (!policy.apps.includes(body.app)) {
      throw new HttpError(403, 'app_not_allowed', `the ${user.role} role may not start ${body.app} (allowed: ${policy.apps.join(', ') || 'none'})`);
    }
    if (body.profile === 'persist' && !app.persistentProfiles) {
      throw new HttpError(400, 'invalid_request', `${body.app} keeps no persistent profile; start it with profile "ephemeral"`);
    }
    if (body.url !== undefined && !app.opensUrls) {
      throw new HttpError(400, 'invalid_request', `url: ${body.app} opens no page; start it without url`);
    }
    const requestedAt = Date.now();
    const spec = await this.reserve(user, body, app, ip, requestedAt);
    this.deps.logger.info('creating session', { sessionId: spec.sessionId, userId: user.id, app: spec.app, warm: spec.warm !== undefined });
    const snapshot = await this.startAndAwaitReady(spec);
    const connect = await this.issueConnect(user, snapshot, ip);
    this.deps.metrics.sessionStart.observe({ start: snapshot.start ?? 'cold' }, (Date.now() - requestedAt) / 1000);
    return { ...snapshotView(snapshot), start: snapshot.start ?? 'cold', connect };
  }

  /**
   * The row written under the quota lock is the reservation; the workflow then owns it. The
   * claim happens inside it too, so a user over quota never takes a warm container.
   */
  private async reserve(user: AuthenticatedUser, body: CreateSessionBody, app: AppDefinition, ip: string, requestedAt: number): Promise<SessionSpec> {
    const { config, quotas, pools, rows, egress } = this.deps;
    const policy = appPolicy({ ...config.policies[user.role], egress: await egress.effective(user.role) }, app);
    const placement = placementLabels(policy.nodeLabels, body.node_labels);
    if (!placement.ok) {
      const required = `${placement.key}=${policy.nodeLabels[placement.key]}`;
      throw new HttpError(403, 'node_labels_not_allowed', `the ${user.role} role places sessions only on nodes with ${required}`);
    }
    const nodeLabels = placement.labels;
    return quotas.reserve(user.id, async (quota, usage) => {
      const profileCapMb = body.profile === 'persist' ? await this.profileCap(user.id, body.app, quota, usage) : undefined;
      // Only from a node the session could be placed on: its labels, room for its limits.
      const demand = { memoryMb: quota.memoryMb, cpus: quota.cpus, labels: nodeLabels };
      const slot = app.warm && canTakeWarmContainer(body.profile, policy, WARM_PROFILES) ? await pools.claim(body.app, body.quality, demand) : null;
      // Its node writes the session's token key as given: a node holds no secret to derive it.
      const warm = slot ? { ...slot, tokenPublicKeyHex: sessionPublicKeyHex(config.sessionTokenSecret, slot.sessionId) } : null;
      // A warm container's certificate and routes were made for the id it was warmed under.
      const sessionId = warm?.sessionId ?? randomUUID();
      const request = { sessionId, userId: user.id, app: body.app, url: body.url ?? null, quality: body.quality, profile: body.profile, requestedAt, requestedFrom: ip, warm, nodeLabels };
      await rows.reserve(request);
      return { ...sessionSpec(request, app, quota, policy, config.session), ...(profileCapMb !== undefined ? { profileCapMb } : {}) };
    });
  }

  /**
   * A persistent session's profile size limit, once it is sure to be the profile's only session:
   * a row that still has it (until its container and the profile's mount are gone) answers 409.
   */
  private async profileCap(userId: string, app: string, quota: Quota, usage: QuotaUsage): Promise<number> {
    const holder = await this.deps.rows.profileHolder(userId, app);
    if (holder !== null) {
      throw new HttpError(409, 'profile_in_use', `your ${app} profile is in use by session ${holder}; connect to it, or stop it first`, {}, { session_id: holder });
    }
    return this.deps.quotas.profileCap(quota, usage, app);
  }

  /** Starts the session's workflow and waits, within the create timeout, until it is ready or has failed. */
  private async startAndAwaitReady(spec: SessionSpec): Promise<SessionSnapshot> {
    const { config, temporal } = this.deps;
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof SessionWorkflow>('SessionWorkflow', {
      workflowId: sessionWorkflowId(spec.sessionId),
      taskQueue: config.temporal.taskQueue,
      args: [{ spec }],
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [
        { key: userIdSearchAttribute, value: spec.userId },
        { key: appSearchAttribute, value: spec.app },
        { key: sessionStateSearchAttribute, value: 'provisioning' },
      ],
    });
    // The deadline cancels the wait, not the session: on timeout it is stopped explicitly.
    const deadline = AbortSignal.timeout(config.createTimeoutSeconds * 1000);
    let snapshot: SessionSnapshot;
    try {
      snapshot = await temporal.withAbortSignal(deadline, () => temporal.workflow.executeUpdateWithStart(awaitReadyUpdate, { startWorkflowOperation }));
    } catch (err) {
      if (!deadline.aborted) {
        // The workflow never started (Temporal unreachable): give the reservation back.
        await this.deps.rows.failReservation(spec.sessionId, 'could not start the session workflow');
        throw err;
      }
      await this.signalStop(spec.sessionId, spec.userId, 'provision_timeout');
      const message = `session ${spec.sessionId} was not ready within ${config.createTimeoutSeconds}s and is being torn down`;
      throw new HttpError(504, 'session_timeout', message, {}, { session_id: spec.sessionId });
    }
    if (snapshot.reason === 'no_capacity') {
      // Nothing was made and the quota slot is free again: worth trying again shortly.
      throw new HttpError(503, 'no_capacity', `no session node has room for this session now: ${snapshot.message ?? 'every node is full, draining or silent'}`, { 'Retry-After': '30' }, { session_id: spec.sessionId });
    }
    if (FINAL_STATES.includes(snapshot.state)) {
      const message = `session ${spec.sessionId} could not be started: ${snapshot.message ?? snapshot.reason ?? 'unknown reason'}`;
      throw new HttpError(503, 'session_failed', message, {}, { session_id: spec.sessionId });
    }
    return snapshot;
  }

  /** Fresh one-time credentials for a running session of the caller's. */
  async connect(user: AuthenticatedUser, sessionId: string, ip: string): Promise<ConnectableSessionView> {
    const snapshot = await this.owned(user, sessionId);
    if (snapshot.state !== 'ready' && snapshot.state !== 'active') {
      throw new HttpError(409, 'session_not_running', `session ${sessionId} is ${snapshot.state}; only a running session can be connected to`);
    }
    return { ...snapshotView(snapshot), connect: await this.issueConnect(user, snapshot, ip) };
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

  async list(user: AuthenticatedUser, q: ListSessionsQuery): Promise<{ sessions: SessionView[]; next_cursor: string | null }> {
    if (q.all && user.role !== 'admin') throw new HttpError(403, 'forbidden', 'only admins may list all sessions');
    if (q.user && !q.all) throw new HttpError(400, 'invalid_request', 'invalid query: user: only with all=1 (admins)');
    const page = await this.deps.rows.list({ userId: q.all ? (q.user ?? null) : user.id, state: q.state, app: q.app, cursor: q.cursor, limit: q.limit });
    return { sessions: page.sessions.map(snapshotView), next_cursor: page.nextCursor };
  }

  async get(user: AuthenticatedUser, sessionId: string): Promise<SessionView> {
    return snapshotView(await this.owned(user, sessionId));
  }

  /**
   * Asks the session to stop and waits briefly for teardown. Idempotent: stopping a stopped
   * session answers with its final state.
   */
  async stop(user: AuthenticatedUser, sessionId: string): Promise<{ view: SessionView; done: boolean }> {
    const recorded = await this.owned(user, sessionId);
    if (!FINAL_STATES.includes(recorded.state)) {
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
        return { view: { ...view, state: FINAL_STATES.includes(view.state) ? view.state : 'stopping' }, done: false };
      }
    }
    return { view: snapshotView(recorded), done: true };
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
  private async owned(user: AuthenticatedUser, sessionId: string): Promise<SessionSnapshot> {
    const recorded = await this.deps.rows.find(sessionId);
    if (!recorded || (recorded.userId !== user.id && user.role !== 'admin')) throw notFound(`no session ${sessionId}`);
    return recorded;
  }
}
