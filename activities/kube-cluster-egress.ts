/**
 * The host firewall's calls on a worker with HACKSTREAM_RUNTIME=kubernetes, where a session's
 * egress policy is its pod's NetworkPolicy (kube-session-objects.ts), not rules on the worker's
 * host: the policy is made with the role's openings (kube-session-runtime.ts resolves them when
 * it makes it) and goes with the session's other objects.
 */
import type { KubeSessionRuntime } from './kube-session-runtime.js';
import { resolveOpenings } from './session-firewall.js';

export class ClusterEgress {
  constructor(private readonly sessions: Pick<KubeSessionRuntime, 'updateEgress'>) {}

  install(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * A session whose pod exists already (a claimed warm pod, made with no openings) gets its
   * role's in its NetworkPolicy; before its pod's creation there is nothing to do here (the
   * policy is made with them).
   */
  async open(sessionId: string, egress: readonly string[]): Promise<void> {
    if (egress.length > 0) await this.sessions.updateEgress(sessionId, await resolveOpenings(egress));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
