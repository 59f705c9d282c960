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
import type { ProfileVolumes } from './profile-volumes.js';

export interface SessionRemovalDeps {
  routes: Pick<SessionRoutes, 'remove'>;
  credentials: Pick<CredentialRevocation, 'revokeAll'>;
  runtime: Pick<ContainerRuntime, 'removeSessionContainers' | 'quitApp'>;
  profiles: Pick<ProfileVolumes, 'isAttached' | 'detach'>;
  firewall: Pick<SessionFirewall, 'close'>;
  files: Pick<SessionFiles, 'remove'>;
}

export interface RemovedSession {
  /** Containers that still existed. */
  removed: number;
  /** Credentials that were still live. */
  revoked: number;
  /** A persistent session's profile: its usage when it was unmounted (absent: it had none mounted). */
  profile?: { usedMb: number; capMb: number };
  /**
   * A persistent session's app, asked to quit before its container went: whether it did within
   * APP_QUIT_SECONDS and how long it took. One that did not lost what it had not written yet.
   */
  appQuit?: { quit: boolean; ms: number };
}

/**
 * How long a persistent session's app is given to save its data and quit before its container is
 * removed. A bound, not a wait: the removal goes on as soon as the app has quit. Generous, because
 * a quit cut short loses the user's data and a loaded host slows the app's shutdown down.
 */
export const APP_QUIT_SECONDS = 30;

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
    // A profile outlives the session: its app saves what it holds in memory first (the
    // container of an ephemeral one holds nothing worth that wait).
    const attached = await deps.profiles.isAttached(sessionId);
    const quitStarted = Date.now();
    const appQuit = attached ? { quit: await deps.runtime.quitApp(sessionId, APP_QUIT_SECONDS), ms: Date.now() - quitStarted } : null;
    const removed = await deps.runtime.removeSessionContainers(sessionId);
    // Only once nothing writes to it: unmounted, it may be mounted for the user's next session.
    // Asked even when nothing is mounted: a host that went down (a restart, a loss of power)
    // unmounted the profile but left its mount point, which would otherwise be the reconciler's
    // at every pass.
    const profile = await deps.profiles.detach(sessionId);
    await deps.firewall.close(sessionId);
    await deps.files.remove(sessionId);
    if ('error' in revocation) {
      throw new CredentialsNotRevokedError(`session ${sessionId} is removed but its browser credentials are not revoked yet: ${String(revocation.error)}`, {
        cause: revocation.error,
      });
    }
    return { removed, revoked: revocation.revoked, ...(profile ? { profile } : {}), ...(appQuit ? { appQuit } : {}) };
  };
}
