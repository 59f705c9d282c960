/**
 * The reconciler: what no running workflow owns is removed. A session's workflow tears it down
 * on every path out, but a workflow that is gone (terminated by an operator, lost with Temporal's
 * database) or never started (the API died between the row and the start) tears nothing down.
 * Run by the reconcile schedule (workflows/reconcile-workflow.ts), it lists what this stack has
 * (containers and networks by label, route files, session files, persistent profiles' mounts,
 * browser credentials in Redis,
 * rows that are not final, reservations on session nodes), asks Temporal about each session's
 * workflow, and for a session whose workflow is not running removes everything in the one order
 * of session-removal.ts, gives its node reservation back and ends its row as `failed` /
 * `workflow_lost`. Every step is idempotent: a pass cut short is finished by the
 * next one.
 *
 * A warm container in its pool's ready list belongs to the pool. What has no workflow at all is
 * left alone for a grace period: a create writes its row, and a pool warms its container, before
 * a workflow owns them.
 */
import { Context } from '@temporalio/activity';
import type { AuditLog } from '../core/audit-log.js';
import type { NodeRegistry } from '../core/node-registry.js';
import type { CredentialRevocation } from '../core/connect-credentials.js';
import type { RedisPoolStore } from '../core/pool-store.js';
import type { SessionRows } from '../core/session-rows.js';
import type { ContainerRuntime } from './docker-session-runtime.js';
import { whileHeartbeating } from './keep-alive.js';
import type { SessionEndMetrics } from './session-activities.js';
import type { ProfileVolumes } from './profile-volumes.js';
import type { SessionFiles } from './session-files.js';
import { sessionRemover, type SessionRemovalDeps } from './session-removal.js';
import type { SessionWorkflowStatus, WorkflowStatus } from './session-workflow-status.js';
import type { SessionRoutes } from './traefik-routes.js';
import type { ReconcileInput, ReconcileReport, ReconciledKind } from '../workflows/messages.js';

/** Where the counts of what the reconciler removed go (the worker's Prometheus counter). */
export interface ReconcileMetrics extends SessionEndMetrics {
  reconciled(kind: ReconciledKind, count: number): void;
}

export type ReconcileDeps = SessionRemovalDeps & {
  runtime: Pick<ContainerRuntime, 'listManaged' | 'listManagedNetworks'>;
  routes: Pick<SessionRoutes, 'list' | 'collectLeftovers'>;
  files: Pick<SessionFiles, 'list' | 'collectLeftovers'>;
  profiles: Pick<ProfileVolumes, 'list'>;
  credentials: CredentialRevocation;
  store: Pick<SessionRows, 'nonFinal' | 'finaliseLost'>;
  nodes: Pick<NodeRegistry, 'reservations' | 'release'>;
  pools: Pick<RedisPoolStore, 'readySessionIds'>;
  workflows: SessionWorkflowStatus;
  audit: Pick<AuditLog, 'record'>;
  metrics: ReconcileMetrics;
};

/**
 * What this stack has of one session, and its latest sign of life: the newest of its parts. A
 * warm container claimed a moment ago is old, but the row its create just wrote is not.
 */
interface Holdings {
  since: number;
  kinds: Set<Exclude<ReconciledKind, 'leftover'>>;
  userId: string | null;
}

/** Everything this stack has, by session id. */
async function takeInventory(deps: ReconcileDeps): Promise<Map<string, Holdings>> {
  const found = new Map<string, Holdings>();
  const note = (sessionId: string, since: number, kind: Exclude<ReconciledKind, 'leftover'>, userId: string | null = null) => {
    const h = found.get(sessionId) ?? { since, kinds: new Set(), userId };
    h.since = Math.max(h.since, since);
    h.kinds.add(kind);
    h.userId ??= userId;
    found.set(sessionId, h);
  };
  const [containers, networks, routes, files, profiles, credentials, rows, reservations] = await Promise.all([
    deps.runtime.listManaged(),
    deps.runtime.listManagedNetworks(),
    deps.routes.list(),
    deps.files.list(),
    deps.profiles.list(),
    deps.credentials.sessionsWithCredentials(),
    deps.store.nonFinal(),
    deps.nodes.reservations(),
  ]);
  for (const c of containers) note(c.sessionId, c.createdAt, 'container');
  for (const n of networks) note(n.sessionId, n.createdAt, 'network');
  for (const r of routes) note(r.sessionId, r.since, 'route');
  for (const f of files) note(f.sessionId, f.since, 'files');
  for (const p of profiles) note(p.sessionId, p.since, 'profile');
  // Issued only to a session its workflow reported ready: they are no sign of a create in flight.
  for (const id of credentials) note(id, 0, 'credentials');
  for (const r of rows) note(r.sessionId, r.requestedAt, 'row', r.userId);
  for (const r of reservations) note(r.sessionId, r.since, 'reservation');
  return found;
}

const ownerOf = (workflow: WorkflowStatus): string => (workflow.status === 'closed' ? `its workflow ended (${workflow.detail})` : 'it has no workflow');

/** One pass over everything this stack has; `progress` is told each session it looks at. */
function reconcilePass(deps: ReconcileDeps) {
  const remove = sessionRemover(deps);

  /** Removes one session's leftovers and ends its row; returns what it removed. */
  const reconcileOne = async (sessionId: string, held: Holdings, workflow: WorkflowStatus): Promise<ReconciledKind[]> => {
    const done: ReconciledKind[] = [];
    const why = ownerOf(workflow);
    const resources = [...held.kinds].filter((k) => k !== 'row');
    if (resources.length > 0) {
      await remove(sessionId);
      // Only once its container is gone may another session have its room on the node.
      if (held.kinds.has('reservation')) await deps.nodes.release(sessionId);
      done.push(...resources);
      await deps.audit.record({
        action: 'reconcile.session_removed',
        userId: held.userId,
        targetType: 'session',
        targetId: sessionId,
        details: { removed: resources, why },
      });
    }
    if (held.kinds.has('row') && (await deps.store.finaliseLost(sessionId, 'workflow_lost', `${why}; the reconciler ended it`))) {
      done.push('row');
      deps.metrics.sessionEnded('workflow_lost');
      await deps.audit.record({ action: 'reconcile.session_finalised', userId: held.userId, targetType: 'session', targetId: sessionId, details: { why } });
    }
    return done;
  };

  return async (input: ReconcileInput, progress: (sessionId: string) => void): Promise<ReconcileReport> => {
    const graceMs = input.graceSeconds * 1000;
    const found = await takeInventory(deps);
    const ready = await deps.pools.readySessionIds();
    const removed: ReconcileReport['removed'] = {};
    const count = (kind: ReconciledKind, n = 1) => {
      if (n === 0) return;
      removed[kind] = (removed[kind] ?? 0) + n;
      deps.metrics.reconciled(kind, n);
    };
    let reconciled = 0;
    for (const [sessionId, held] of found) {
      progress(sessionId);
      if (ready.has(sessionId)) continue;
      const workflow = await deps.workflows.of(sessionId);
      if (workflow.status === 'running') continue;
      if (workflow.status === 'missing' && Date.now() - held.since < graceMs) continue;
      const done = await reconcileOne(sessionId, held, workflow);
      if (done.length > 0) reconciled++;
      for (const kind of done) count(kind);
    }
    count('leftover', (await deps.files.collectLeftovers(graceMs)) + (await deps.routes.collectLeftovers(graceMs)));
    return { sessions: found.size, reconciled, removed };
  };

}

export function reconcileActivities(deps: ReconcileDeps) {
  const pass = reconcilePass(deps);
  return {
    /** One pass: everything of this stack that no running workflow owns is removed. */
    async reconcileSessions(input: ReconcileInput): Promise<ReconcileReport> {
      return whileHeartbeating(() => pass(input, (sessionId) => Context.current().heartbeat(sessionId)));
    },
  };
}

/**
 * The same pass outside any activity: a worker that polls only its node's queue runs it itself
 * (worker/session-worker.ts), at start before it takes work and then on the reconcile interval,
 * since the reconcile schedule's activity runs on the control queue, on another host's engine.
 */
export function engineReconciler(deps: ReconcileDeps): (input: ReconcileInput) => Promise<ReconcileReport> {
  const pass = reconcilePass(deps);
  return (input) => pass(input, () => undefined);
}
