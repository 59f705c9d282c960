/**
 * The one order in which a session (or a warm container that never became one) is removed: close
 * the doors first (its routes, then its browser-path credentials), then remove its containers and
 * network, its egress openings, then its files (certificate and keys). Every step treats "already gone" as done, so a
 * retried removal finishes what an interrupted one started. Only the credentials' store (Redis)
 * being down does not stop the steps after it.
 */
import type { ContainerRuntime } from './docker-session-runtime.js';
import type { CredentialRevocation } from '../core/connect-credentials.js';
import type { SessionFiles } from './session-files.js';
import type { SessionFirewall } from './session-firewall.js';
import type { SessionRoutes } from './traefik-routes.js';
import { CredentialsNotRevokedError } from './errors.js';

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
    // A Redis outage must not keep the container running: its browser credentials open nothing
    // once the container is gone, so the rest goes on and the revocation fails the removal after
    // it (retried, the steps before it are already done).
    const revocation = await deps.credentials.revokeAll(sessionId).then(
      (revoked) => ({ revoked }),
      (error: unknown) => ({ error }),
    );
    const removed = await deps.runtime.removeSessionContainers(sessionId);
    await deps.firewall.close(sessionId);
    await deps.files.remove(sessionId);
    if ('error' in revocation) {
      throw new CredentialsNotRevokedError(`session ${sessionId} is removed but its browser credentials are not revoked yet: ${String(revocation.error)}`, {
        cause: revocation.error,
      });
    }
    return { removed, revoked: revocation.revoked };
  };
}
