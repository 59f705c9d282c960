/**
 * The session monitor's Kubernetes part: every pass lists the stack's session pods (one API call)
 * and tells a session's workflow, once per pod, that its pod ended: `node_lost` when the cluster
 * took it away from a node that stopped answering (the pods tolerate an unreachable or not-ready
 * node for 30 s only, kube-session-objects.ts, after the cluster's node grace period), or the
 * app's exit when it ended by itself or was evicted from a node that still runs (a drain). What it needs is the pods of its own namespace only: no
 * read of nodes, nothing cluster-wide (the Helm chart's worker Role).
 *
 * State is in memory only: after a restart the first pass tells again what it told before, which
 * the workflows take as a no-op (a signal to an ended workflow is dropped, session-events.ts).
 */
import type { Logger } from '../core/logger.js';
import type { KubeManagedPod, KubePodEnd } from '../activities/kube-session-runtime.js';
import type { AppExit } from '../workflows/messages.js';
import { repeatEvery } from './repeat-every.js';

export interface KubeMonitoredWorkflows {
  nodeLost(sessionId: string): Promise<void>;
  appExited(sessionId: string, exit: AppExit): Promise<void>;
}

export interface KubeSessionMonitorDeps {
  runtime: { listManaged(): Promise<KubeManagedPod[]> };
  workflows: KubeMonitoredWorkflows;
  logger: Logger;
}

export class KubeSessionMonitor {
  /** The pods whose end their session's workflow has been told of. */
  private readonly told = new Set<string>();

  constructor(private readonly d: KubeSessionMonitorDeps) {}

  /** One pass: the ends it told of this time. */
  async pass(): Promise<Array<{ sessionId: string; end: KubePodEnd }>> {
    const pods = await this.d.runtime.listManaged();
    // A pod no longer listed (removed by its teardown) is forgotten: the set holds only live pods.
    const listed = new Set(pods.map((p) => p.uid));
    for (const uid of this.told) if (!listed.has(uid)) this.told.delete(uid);

    const told: Array<{ sessionId: string; end: KubePodEnd }> = [];
    for (const { sessionId, uid, state } of pods) {
      const end = state.end;
      if (!end || this.told.has(uid)) continue;
      try {
        if (end.reason === 'node_lost') {
          this.d.logger.warn('session pod lost with its node', { sessionId, pod: state.name, node: state.nodeName, detail: end.detail });
          await this.d.workflows.nodeLost(sessionId);
        } else if (end.reason === 'evicted') {
          // Its node still runs: the app was ended with its pod, as a container gone without an exit code.
          this.d.logger.warn('session pod evicted', { sessionId, pod: state.name, node: state.nodeName, detail: end.detail });
          await this.d.workflows.appExited(sessionId, { exitCode: null });
        } else {
          await this.d.workflows.appExited(sessionId, { exitCode: end.exitCode });
        }
        this.told.add(uid);
        told.push({ sessionId, end });
      } catch (err) {
        // Told again at the next pass.
        this.d.logger.warn('could not tell a session its pod ended', { sessionId, pod: state.name, error: String(err) });
      }
    }
    return told;
  }
}

export function watchKubeSessions(monitor: KubeSessionMonitor, everySeconds: number, logger: Logger): { stop(): void } {
  return repeatEvery(everySeconds, () =>
    monitor.pass().then(
      () => undefined,
      (err: unknown) => void logger.warn('could not list the session pods', { error: String(err) }),
    ),
  );
}
