/**
 * Sessions as pods (issue 17's runtime, first part): creates a session's objects
 * (kube-session-objects.ts) in the sessions' namespace, reports its pod's state, and removes
 * everything of a session by its label. Every step is idempotent under retries: an object that
 * already exists is kept (its name is the session's), one already gone counts as removed.
 */
import { CoreV1Api, NetworkingV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { quantityToScalar } from '@kubernetes/client-node/dist/util.js';
import { goneIsDone, keepExisting, statusOf } from './kube-api-calls.js';
import { PodExec, type ExecResult } from './kube-pod-exec.js';
import { resolveOpenings, type ResolvedOpening } from './session-firewall.js';
import type { SessionSpec } from '../workflows/messages.js';
import { ProfileInUseError } from './errors.js';
import {
  kubeEgressRules,
  kubeProfileClaim,
  kubeProfileClaimName,
  kubeProfileSelector,
  kubeSessionLimits,
  kubeSessionName,
  kubeSessionObjects,
  kubeSessionSelector,
  kubeStackSelector,
  KUBE_FILES_CONTAINER,
  KUBE_LABELS,
  KUBE_POOL_ANNOTATION,
  KUBE_SESSION_CONTAINER,
  KUBE_WINDOW_CLASS_ANNOTATION,
  type KubeSessionPlacement,
} from './kube-session-objects.js';

export interface KubePodState {
  name: string;
  /** Pending, Running, Succeeded, Failed or Unknown. */
  phase: string;
  /** The class of the app's main window. */
  windowClass: string | null;
  /** Its containers all ready (the readiness the cluster reports). */
  ready: boolean;
  ip: string | null;
  nodeName: string | null;
  /** The image reference its session container was made with. */
  image: string | null;
  /** The session keeps its app's data in a persistent profile's claim. */
  persistent: boolean;
  /** The warm pool it was made for (claimed since or not), or null. */
  pool: string | null;
  /** Its session container's limits, as the pod's spec has them now. */
  limits: { memory?: string; cpu?: string };
  /** How its session ended, once it has (podEndOf); null while it may still run. */
  end: KubePodEnd | null;
}

/**
 * `node_lost`: the cluster took the pod away because its node is gone (a `DisruptionTarget`
 * condition from the taint eviction of a node that stopped answering, or the collection of a
 * deleted node's pods): nothing there confirms its end; `evicted`: the cluster took it away from
 * a node that still runs (a drain, a preemption, the kubelet under pressure or shutting down),
 * which ends it as usual; `app_exited`: the pod ended by itself, with its container's exit code.
 */
export type KubePodEnd = { reason: 'node_lost'; detail: string } | { reason: 'evicted'; detail: string } | { reason: 'app_exited'; exitCode: number | null };

/** The DisruptionTarget reasons that mean the pod's node is gone. */
const NODE_GONE_REASONS = new Set(['DeletionByTaintManager', 'DeletionByPodGC']);

/** The kinds of object a session has in the sessions' namespace (its routes aside: kube-session-routes.ts). */
export type KubeSessionObjectKind = 'pod' | 'service' | 'secret' | 'networkpolicy';

/** A session's pod the stack has, as the session monitor sees it. */
export interface KubeManagedPod {
  sessionId: string;
  /** The pod's own id: a pod made again under the same name is another pod. */
  uid: string;
  state: KubePodState;
  /** When the pod was made (epoch ms). */
  createdAt: number;
}

/** How often a wait on a session's pod looks again. */
const POD_POLL_MS = 250;

/** How long a removed pod's app gets to end before the cluster kills it (its app was asked to quit first). */
const POD_DELETE_GRACE_SECONDS = 5;

/**
 * Whether a quantity the API server gives (in its canonical form: `1` for `1000m`, `1Gi` for
 * `1024Mi`) is the one asked for; one it cannot read counts as different.
 */
function sameQuantity(current: string | undefined, wanted: string): boolean {
  if (current === undefined) return false;
  try {
    return Number(quantityToScalar(current)) === Number(quantityToScalar(wanted));
  } catch {
    return false;
  }
}

export class KubeSessionRuntime {
  private readonly core: CoreV1Api;
  private readonly networking: NetworkingV1Api;
  private readonly pods: PodExec;

  constructor(
    config: KubeConfig,
    private readonly placement: KubeSessionPlacement,
  ) {
    this.core = config.makeApiClient(CoreV1Api);
    this.networking = config.makeApiClient(NetworkingV1Api);
    this.pods = new PodExec(config);
  }

  /**
   * Creates whatever of the session's objects does not exist yet; the secret and policy before the
   * pod that needs them. `pool`: a warm pod of that pool (kube-session-objects.ts).
   */
  async ensureSession(spec: SessionSpec, files: Record<string, string>, pool?: string): Promise<KubePodState> {
    // The role's openings go into the session's NetworkPolicy, resolved now as a host's firewall does.
    const { secret, pod, service, networkPolicy } = kubeSessionObjects(spec, files, this.placement, await resolveOpenings(spec.policy.egress ?? []), pool);
    const namespace = this.placement.namespace;
    if (spec.profile === 'persist') await this.ensureProfileClaim(spec);
    await keepExisting(() => this.core.createNamespacedSecret({ namespace, body: secret }));
    await keepExisting(() => this.networking.createNamespacedNetworkPolicy({ namespace, body: networkPolicy }));
    await keepExisting(() => this.core.createNamespacedService({ namespace, body: service }));
    await this.removeEndedPod(spec.sessionId);
    await keepExisting(() => this.core.createNamespacedPod({ namespace, body: pod }));
    const state = await this.podState(spec.sessionId);
    if (!state) throw new Error(`the pod of session ${spec.sessionId} vanished right after its creation`);
    return state;
  }

  /**
   * A pod of the session an earlier attempt left that cannot become ready (it ended, or is being
   * deleted) goes first, so that a retried start makes it afresh instead of keeping it, as the
   * Docker runtime replaces a container that is not running.
   */
  private async removeEndedPod(sessionId: string): Promise<void> {
    const namespace = this.placement.namespace;
    const ended = (await this.core.listNamespacedPod({ namespace, labelSelector: kubeSessionSelector(sessionId) })).items.filter(
      (p) => podEndOf(p) !== null || p.metadata?.deletionTimestamp,
    );
    if (ended.length === 0) return;
    for (const pod of ended) await goneIsDone(() => this.core.deleteNamespacedPod({ namespace, name: pod.metadata?.name ?? '', gracePeriodSeconds: 0 }));
    if (!(await this.waitForPod(sessionId, (state) => state === null, 30_000)).reached) throw new Error(`the ended pod of session ${sessionId} was not gone within 30 s`);
  }

  /**
   * A persistent session's claim, made on its first session; refused while another session's
   * pod of the same user and app has not ended (one writer: the profile's row is the lock, this
   * the check where the volume is, as profile-volumes.ts does with loop devices).
   */
  private async ensureProfileClaim(spec: SessionSpec): Promise<void> {
    const namespace = this.placement.namespace;
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector: kubeProfileSelector(spec.userId, spec.app, this.placement.stack) });
    const writer = pods.items.find((p) => p.metadata?.labels?.[KUBE_LABELS.session] !== spec.sessionId && !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''));
    if (writer) throw new ProfileInUseError(`the ${spec.app} profile of user ${spec.userId} is in use by session ${writer.metadata?.labels?.[KUBE_LABELS.session]}`);
    await keepExisting(() => this.core.createNamespacedPersistentVolumeClaim({ namespace, body: kubeProfileClaim(spec, this.placement) }));
  }

  /** The session's pod, or null when it has none. */
  async podState(sessionId: string): Promise<KubePodState | null> {
    const pods = await this.core.listNamespacedPod({ namespace: this.placement.namespace, labelSelector: kubeSessionSelector(sessionId) });
    const pod = pods.items[0];
    return pod ? stateOf(pod) : null;
  }

  /**
   * Looks at the session's pod (null: it has none) until `reached` holds of it or `timeoutMs` has
   * passed: whether it held, and what was seen last.
   */
  async waitForPod(sessionId: string, reached: (state: KubePodState | null) => boolean, timeoutMs: number): Promise<{ reached: boolean; state: KubePodState | null }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await this.podState(sessionId);
      if (reached(state)) return { reached: true, state };
      if (Date.now() >= deadline) return { reached: false, state };
      await new Promise((r) => setTimeout(r, POD_POLL_MS));
    }
  }

  /** Runs a command in the session's container (the kubelet's exec); throws when it could not run. */
  exec(sessionId: string, command: string[], timeoutMs: number): Promise<ExecResult> {
    return this.pods.run(this.placement.namespace, kubeSessionName(sessionId), KUBE_SESSION_CONTAINER, command, timeoutMs);
  }

  /**
   * Writes `line` as the session file `name` in its pod's files sidecar
   * (images/session/session-file.sh: replaced whole, or appended for the token bound), passed on
   * the exec's input. False when the session has no pod.
   */
  async writeLiveFile(sessionId: string, name: string, line: string): Promise<boolean> {
    if (/[\r\n]/.test(line)) throw new Error(`${name} for session ${sessionId} is not one line`);
    if (!(await this.podState(sessionId))) return false;
    const done = await this.pods.run(this.placement.namespace, kubeSessionName(sessionId), KUBE_FILES_CONTAINER, ['hackstream-session-file', name], 10_000, `${line}\n`);
    if (done.exitCode !== 0) throw new Error(`writing ${name} in the pod of session ${sessionId} failed (exit ${done.exitCode}): ${done.stderr.trim()}`);
    return true;
  }

  /** Puts the session's egress openings in its NetworkPolicy (a claimed warm pod's); false when it has none. */
  async updateEgress(sessionId: string, openings: readonly ResolvedOpening[]): Promise<boolean> {
    try {
      await this.networking.patchNamespacedNetworkPolicy(
        { namespace: this.placement.namespace, name: kubeSessionName(sessionId), body: { spec: { egress: kubeEgressRules(openings) } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  /**
   * Gives the session's running container the limits of `resources` in place (the pod's resize:
   * a claimed warm pod started with its pool's), requests equal to limits as at its creation. A
   * pod that has them already is left alone.
   */
  async resize(sessionId: string, resources: SessionSpec['resources']): Promise<void> {
    const state = await this.podState(sessionId);
    const limits = kubeSessionLimits(resources);
    if (!state || (sameQuantity(state.limits.memory, limits.memory) && sameQuantity(state.limits.cpu, limits.cpu))) return;
    await this.core.patchNamespacedPodResize(
      { namespace: this.placement.namespace, name: state.name, body: { spec: { containers: [{ name: KUBE_SESSION_CONTAINER, resources: { requests: limits, limits } }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
  }

  /** The last lines the session's app wrote, for failure messages; empty when the cluster has none to give. */
  async logsTail(sessionId: string, lines: number): Promise<string> {
    try {
      return await this.core.readNamespacedPodLog({ namespace: this.placement.namespace, name: kubeSessionName(sessionId), container: KUBE_SESSION_CONTAINER, tailLines: lines });
    } catch {
      return '';
    }
  }

  /** Throws when the API server does not answer (the worker's health). */
  async ping(): Promise<void> {
    await this.core.listNamespacedPod({ namespace: this.placement.namespace, limit: 1 });
  }

  /** Deletes a user's persistent profile of an app (its claim and the volume bound to it); false when it had none. */
  async removeProfileClaim(userId: string, app: string): Promise<boolean> {
    try {
      await this.core.deleteNamespacedPersistentVolumeClaim({ namespace: this.placement.namespace, name: kubeProfileClaimName(userId, app) });
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  /** Removes every object of the session, the pod first (the rest is what it uses); returns how many pods there were. */
  async removeSession(sessionId: string): Promise<number> {
    const namespace = this.placement.namespace;
    const labelSelector = kubeSessionSelector(sessionId);
    const names = async (list: Promise<{ items: Array<{ metadata?: { name?: string } }> }>) => (await list).items.flatMap((o) => o.metadata?.name ?? []);
    const pods = (await this.core.listNamespacedPod({ namespace, labelSelector })).items;
    for (const pod of pods) {
      const name = pod.metadata?.name ?? '';
      // A pod on a node that stopped answering would wait for that node's confirmation forever.
      const gracePeriodSeconds = podEndOf(pod)?.reason === 'node_lost' ? 0 : POD_DELETE_GRACE_SECONDS;
      await goneIsDone(() => this.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds }));
    }
    for (const name of await names(this.core.listNamespacedService({ namespace, labelSelector }))) await goneIsDone(() => this.core.deleteNamespacedService({ namespace, name }));
    for (const name of await names(this.networking.listNamespacedNetworkPolicy({ namespace, labelSelector }))) {
      await goneIsDone(() => this.networking.deleteNamespacedNetworkPolicy({ namespace, name }));
    }
    for (const name of await names(this.core.listNamespacedSecret({ namespace, labelSelector }))) await goneIsDone(() => this.core.deleteNamespacedSecret({ namespace, name }));
    return pods.length;
  }

  /**
   * Every session this stack has any object of (pod, service, secret, network policy), with the
   * kinds it has and when the newest was made: what the reconciler needs to find what a teardown
   * cut short left (a session's pod gone, its secret still there), which removeSession finishes.
   */
  async inventory(): Promise<Map<string, { kinds: Set<KubeSessionObjectKind>; since: number }>> {
    const namespace = this.placement.namespace;
    const labelSelector = `${kubeStackSelector(this.placement.stack)},${KUBE_LABELS.session}`;
    type Listed = { items: Array<{ metadata?: { labels?: Record<string, string>; creationTimestamp?: Date | string } }> };
    const kinds: KubeSessionObjectKind[] = ['pod', 'service', 'secret', 'networkpolicy'];
    const listings: Listed[] = await Promise.all([
      this.core.listNamespacedPod({ namespace, labelSelector }),
      this.core.listNamespacedService({ namespace, labelSelector }),
      this.core.listNamespacedSecret({ namespace, labelSelector }),
      this.networking.listNamespacedNetworkPolicy({ namespace, labelSelector }),
    ]);
    const found = new Map<string, { kinds: Set<KubeSessionObjectKind>; since: number }>();
    for (const [i, listing] of listings.entries()) {
      const kind = kinds[i]!;
      for (const item of listing.items) {
        const sessionId = item.metadata?.labels?.[KUBE_LABELS.session];
        if (!sessionId) continue;
        const since = new Date(item.metadata?.creationTimestamp ?? 0).getTime() || 0;
        const held = found.get(sessionId) ?? { kinds: new Set<KubeSessionObjectKind>(), since };
        held.kinds.add(kind);
        held.since = Math.max(held.since, since);
        found.set(sessionId, held);
      }
    }
    return found;
  }

  /** The sessions this stack has pods of, for the session monitor and the reconciler. */
  async listManaged(): Promise<KubeManagedPod[]> {
    const pods = await this.core.listNamespacedPod({ namespace: this.placement.namespace, labelSelector: kubeStackSelector(this.placement.stack) });
    return pods.items.flatMap((p) => {
      const sessionId = p.metadata?.labels?.[KUBE_LABELS.session];
      if (!sessionId) return [];
      const createdAt = new Date(p.metadata?.creationTimestamp ?? 0).getTime() || 0;
      return [{ sessionId, uid: p.metadata?.uid ?? '', state: stateOf(p), createdAt }];
    });
  }
}

/** How a session's pod ended, or null while it has not (see KubePodEnd). */
export function podEndOf(pod: V1Pod): KubePodEnd | null {
  const disruption = pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True');
  if (disruption) {
    const detail = [disruption.reason, disruption.message].filter(Boolean).join(': ') || 'DisruptionTarget';
    return NODE_GONE_REASONS.has(disruption.reason ?? '') ? { reason: 'node_lost', detail } : { reason: 'evicted', detail };
  }
  const phase = pod.status?.phase;
  if (phase !== 'Succeeded' && phase !== 'Failed') return null;
  const session = pod.status?.containerStatuses?.find((c) => c.name === KUBE_SESSION_CONTAINER);
  return { reason: 'app_exited', exitCode: session?.state?.terminated?.exitCode ?? null };
}

function stateOf(pod: V1Pod): KubePodState {
  const statuses = pod.status?.containerStatuses ?? [];
  const session = pod.spec?.containers.find((c) => c.name === KUBE_SESSION_CONTAINER);
  return {
    name: pod.metadata?.name ?? '',
    windowClass: pod.metadata?.annotations?.[KUBE_WINDOW_CLASS_ANNOTATION] ?? null,
    phase: pod.status?.phase ?? 'Unknown',
    ready: statuses.length > 0 && statuses.every((s) => s.ready),
    ip: pod.status?.podIP ?? null,
    nodeName: pod.spec?.nodeName ?? null,
    image: session?.image ?? null,
    persistent: pod.metadata?.labels?.[KUBE_LABELS.profile] === 'persist',
    pool: pod.metadata?.annotations?.[KUBE_POOL_ANNOTATION] ?? null,
    limits: { memory: session?.resources?.limits?.['memory'], cpu: session?.resources?.limits?.['cpu'] },
    end: podEndOf(pod),
  };
}
