/**
 * The session workflow's side effects on the control queue, from its records to its routes (what
 * acts on the session's node is node-host-activities.ts): each is idempotent, so Temporal's
 * retries never leave a second certificate or route behind.
 */
import type { AuditLog } from '../core/audit-log.js';
import type { NodeRegistry } from '../core/node-registry.js';
import { TUNNEL_LISTEN_HOST } from '../core/node-tunnel.js';
import type { SessionRows } from '../core/session-rows.js';
import type { EndReason, SessionSnapshot, SessionSpec } from '../workflows/messages.js';
import { sessionProvisioning, type ProvisioningDeps } from './session-provisioning.js';
import type { SessionRemovalDeps } from './session-removal.js';
import type { SessionRoutes } from './traefik-routes.js';

/** What the worker counts of sessions' ends (worker/metrics.ts). */
export interface SessionEndMetrics {
  /** A session ended, for this reason: counted once per session, whoever ended it. */
  sessionEnded(reason: EndReason): void;
}

export type SessionActivityDeps = ProvisioningDeps &
  SessionRemovalDeps & {
  /** The session's row, which the API lists and checks ownership against. */
  store: Pick<SessionRows, 'record'>;
  metrics: SessionEndMetrics;
  audit: Pick<AuditLog, 'record'>;
  routes: SessionRoutes;
  nodes: Pick<NodeRegistry, 'tunnelPortOfSession' | 'tunnelPortOf'>;
};

/** What a session workflow writes to the audit log. */
export interface SessionAuditEvent {
  /** Chosen by the workflow, so a retried write is recorded once. */
  id: string;
  action: 'session.created' | 'session.stopped' | 'session.expired' | 'session.failed';
  actorId: string | null;
  userId: string;
  targetType: 'session';
  targetId: string;
  sourceIp: string | null;
  details: Record<string, unknown> | null;
}

export function sessionActivities(deps: SessionActivityDeps) {
  const { runtime, store, files, routes, credentials, audit, metrics } = deps;
  const provisioning = sessionProvisioning(deps);

  return {
    async recordSession(snapshot: SessionSnapshot): Promise<void> {
      if ((await store.record(snapshot)) && snapshot.reason) metrics.sessionEnded(snapshot.reason);
    },

    async recordAudit(event: SessionAuditEvent): Promise<void> {
      await audit.record(event);
    },

    /**
     * Mints the session's TLS certificate (SAN `<id>.sessions.<domain>`, valid from the
     * session's start for at most its maximum duration, signed by the HackStream CA) and puts it,
     * with the session's token public key, where the container will mount them.
     */
    async prepareSessionFiles(input: { spec: SessionSpec; notBefore: number }): Promise<void> {
      const { spec } = input;
      // A retry keeps the certificate it already wrote.
      if (await files.currentCertificate(spec.sessionId)) return provisioning.writeTokenPublicKey(spec.sessionId);
      await provisioning.writeCertificate(spec.sessionId, input.notBefore, spec.timeouts.maxDurationSeconds, true);
    },

    /**
     * Routes the session's browser and native paths through the ingress, and waits until live. A
     * warm container has no placement yet: its node is given.
     */
    async addSessionRoutes(input: { sessionId: string; containerIp: string; node?: string }): Promise<void> {
      const { sessionId, containerIp, node } = input;
      // A session on an edge node is reached through that node's tunnel, not at its container's address.
      const tunnelPort = node === undefined ? await deps.nodes.tunnelPortOfSession(sessionId) : await deps.nodes.tunnelPortOf(node);
      await routes.add({ sessionId, containerIp, ...(tunnelPort === null ? {} : { via: `${TUNNEL_LISTEN_HOST}:${tunnelPort}` }) });
      await routes.waitUntilLive(sessionId);
    },

    // The three steps below are removeSession's (node-host-activities.ts), one activity each. The
    // first two are the doors the control queue closes before a node removes the rest; the third
    // only session workflows whose teardown began before removeSession existed still call (see the
    // workflow's patches).

    async removeSessionRoutes(input: { sessionId: string }): Promise<void> {
      await routes.remove(input.sessionId);
    },

    async revokeSessionCredentials(input: { sessionId: string }): Promise<{ revoked: number }> {
      return { revoked: await credentials.revokeAll(input.sessionId) };
    },

    async teardownSession(input: { sessionId: string }): Promise<{ removed: number }> {
      const removed = await runtime.removeSessionContainers(input.sessionId);
      await files.remove(input.sessionId);
      return { removed };
    },
  };
}
