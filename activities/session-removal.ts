/**
 * The one order in which a session (or a warm container that never became one) is removed: close
 * the doors first (its routes, then its browser-path credentials), then remove its containers and
 * network, its egress openings, then its files (certificate and keys). Every step treats "already gone" as done, so a
 * retried removal finishes what an interrupted one started.
 */
import type { ContainerRuntime } from './docker-session-runtime.js';
import type { CredentialRevocation } from '../core/connect-credentials.js';
import type { SessionFiles } from './session-files.js';
import type { SessionFirewall } from './session-firewall.js';
import type { SessionRoutes } from './traefik-routes.js';

export interface SessionRemovalDeps {
  routes: Pick<SessionRoutes, 'remove'>;
  credentials: Pick<CredentialRevocation, 'revokeAll'>;
  runtime: Pick<ContainerRuntime, 'removeSessionContainers'>;
  firewall: Pick<SessionFirewall, 'close'>;
  files: Pick<SessionFiles, 'remove'>;
}

export interface RemovedSession {
  /** Containers that still existed. */
  removed: number;
  /** Credentials that were still live. */
  revoked: number;
}

export function sessionRemover(deps: SessionRemovalDeps): (sessionId: string) => Promise<RemovedSession> {
  return async (sessionId) => {
    await deps.routes.remove(sessionId);
    const revoked = await deps.credentials.revokeAll(sessionId);
    const removed = await deps.runtime.removeSessionContainers(sessionId);
    await deps.firewall.close(sessionId);
    await deps.files.remove(sessionId);
    return { removed, revoked };
  };
}
