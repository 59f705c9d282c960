/**
 * What a worker with HACKSTREAM_RUNTIME=kubernetes runs sessions with (issue 17): pods in the
 * cluster's sessions namespace behind the activities' container interface, their profiles as
 * volume claims, their routes as Traefik's objects in the cluster, and a monitor that watches the
 * pods instead of a host's containers and sockets. The worker's credentials are KUBECONFIG's, or
 * its service account's in the cluster (the Helm chart's worker Role: its namespace only).
 */
import { clusterCredentials } from './cluster-credentials.js';
import { KubeContainerRuntime } from '../activities/kube-container-runtime.js';
import { KubeLiveFiles } from '../activities/kube-live-files.js';
import { ClusterEgress } from '../activities/kube-cluster-egress.js';
import { KubeProfileClaims } from '../activities/kube-profile-claims.js';
import { KubeSessionRoutes } from '../activities/kube-session-routes.js';
import { KubeSessionRuntime } from '../activities/kube-session-runtime.js';
import type { IngressProbe } from '../activities/ingress-liveness.js';
import type { WorkerConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { KubeSessionMonitor, watchKubeSessions, type KubeMonitoredWorkflows } from './kube-session-monitor.js';

export interface KubeSessionHost {
  runtime: KubeContainerRuntime;
  profiles: KubeProfileClaims;
  /** A session's egress policy, its role's openings included, is its NetworkPolicy (kube-session-objects.ts): nothing on the worker's host. */
  firewall: ClusterEgress;
  /** What a pod gets after its start (a warm pod's claim, an account change's token bound), written in the pod. */
  liveFiles: KubeLiveFiles;
  /** The routes on the cluster, with what all of them name (made or brought up to date here). */
  routes(domain: string, probe: IngressProbe): Promise<KubeSessionRoutes>;
  /**
   * A pod's sockets, as the session monitor would read a container's from the host: not visible
   * from the worker, so xpra is asked at every pass (by exec) whether a client is connected.
   */
  sockets: { inUse(): Promise<null>; table(): Promise<null> };
  /** Watches the stack's pods: a pod lost with its node, evicted or ended tells its session. */
  watch(workflows: KubeMonitoredWorkflows, everySeconds: number): { stop(): void };
}

export function openKubeSessionHost(config: Pick<WorkerConfig, 'kube' | 'temporal' | 'ingress' | 'memoryMerge'>, logger: Logger): KubeSessionHost {
  const { kube } = config;
  const cluster = clusterCredentials(kube.kubeconfigFile);
  const stack = config.temporal.taskQueue;
  const sessions = new KubeSessionRuntime(cluster, {
    namespace: kube.namespace,
    stack,
    ingress: kube.ingress,
    ...(kube.nodeName ? { nodeName: kube.nodeName } : {}),
    ...(kube.profileStorageClass ? { profileStorageClass: kube.profileStorageClass } : {}),
    ...(kube.nodeLostAfterSeconds ? { nodeLostAfterSeconds: kube.nodeLostAfterSeconds } : {}),
    ...(config.memoryMerge ? { memoryMerge: true } : {}),
    ...(kube.userNamespaces ? {} : { userNamespaces: false }),
  });
  return {
    runtime: new KubeContainerRuntime(sessions),
    profiles: new KubeProfileClaims(sessions),
    firewall: new ClusterEgress(sessions),
    liveFiles: new KubeLiveFiles(sessions),
    sockets: { inUse: () => Promise.resolve(null), table: () => Promise.resolve(null) },
    async routes(domain, probe) {
      const routes = new KubeSessionRoutes(cluster, { namespace: kube.namespace, stack, domain }, probe);
      await routes.ensureShared(kube.apiUpstream ?? config.ingress.apiUpstream);
      return routes;
    },
    watch(workflows, everySeconds) {
      return watchKubeSessions(new KubeSessionMonitor({ runtime: sessions, workflows, logger }), everySeconds, logger);
    },
  };
}
