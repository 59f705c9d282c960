/**
 * The session workflow's side effects, from provisioning to removal: each is idempotent, so
 * Temporal's retries never leave a second certificate, container or route behind.
 */
import type { AuditLog } from '../core/audit-log.js';
import type { NodeRegistry } from '../core/node-registry.js';
import { TUNNEL_LISTEN_HOST } from '../core/node-tunnel.js';
import type { SessionRows } from '../core/session-rows.js';
import type { EndReason, SessionContainer, SessionSnapshot, SessionSpec, WarmSlot } from '../workflows/messages.js';
import { ContainerExitedError } from './errors.js';
import { whileHeartbeating } from './keep-alive.js';
import { sessionProvisioning, type ProvisioningDeps } from './session-provisioning.js';
import { sessionRemover, type RemovedSession, type SessionRemovalDeps } from './session-removal.js';
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
  const removeEverything = sessionRemover(deps);

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

    /** Creates (or finds) the session's container and waits until the app's window exists. */
    provisionSession(spec: SessionSpec): Promise<SessionContainer> {
      return whileHeartbeating(() => provisioning.startAndWaitReady(spec));
    },

    /**
     * Makes a claimed warm container the session's: its token public key (until now it admitted
     * nobody), its role's egress openings, the user's limits, and the requested page in the
     * Firefox that is already up.
     */
    async claimWarmContainer(input: { spec: SessionSpec; slot: WarmSlot }): Promise<SessionContainer> {
      const { spec, slot } = input;
      const state = await runtime.inspect(slot.containerId);
      if (!state?.running) throw new ContainerExitedError(`warm container ${slot.containerName} is no longer running`);
      // Given by the API with the slot; a slot handed over before it did is keyed here.
      await (slot.tokenPublicKeyHex ? files.writeTokenPublicKey(spec.sessionId, slot.tokenPublicKeyHex) : provisioning.writeTokenPublicKey(spec.sessionId));
      // A warm container was started with no openings: only a role with some needs the firewall.
      if (spec.policy.egress?.length) await deps.firewall.open(spec.sessionId, spec.policy.egress);
      await Promise.all([runtime.updateLimits(slot.containerId, spec.resources), spec.url ? files.handOverUrl(spec.sessionId, spec.url) : undefined]);
      return { id: slot.containerId, name: slot.containerName, ip: slot.ip };
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

    /**
     * Removes everything the session had on this host, in the one order of
     * activities/session-removal.ts (on a node of another host, its routes and credentials are
     * not here: the workflow closes those on the control queue first, with the two below).
     */
    async removeSession(input: { sessionId: string }): Promise<RemovedSession> {
      return removeEverything(input.sessionId);
    },

    // The three steps below are removeSession's, one activity each. The first two are the doors
    // the control queue closes before a node removes the rest; the third only session workflows
    // whose teardown began before removeSession existed still call (see the workflow's patches).

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
