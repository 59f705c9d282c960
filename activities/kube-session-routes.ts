/**
 * A session's routes on Kubernetes (issue 17's runtime): Traefik's IngressRoute for its browser
 * host and IngressRouteTCP for its native TLS name, in the sessions' namespace, to the session's
 * Service (kube-session-objects.ts builds them with the file provider's rules). The same
 * interface as the file provider's (traefik-routes.ts): what adds, waits for and removes routes
 * need not know where Traefik reads them. Each object is written whole by the API server, so
 * nothing half-written is ever left to collect.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { RouteTarget } from '../core/traefik-dynamic-config.js';
import { untilRoutesLive, type IngressProbe } from './ingress-liveness.js';
import { KUBE_LABELS, kubeSessionName, kubeSessionRoutes, kubeSharedRouteObjects, kubeStackSelector, TRAEFIK_CRD, type KubeCustomObject, type KubeRoutePlacement } from './kube-session-objects.js';
import { goneIsDone, keepExisting, statusOf } from './kube-api-calls.js';
import type { SessionRoutes } from './traefik-routes.js';

export class KubeSessionRoutes implements SessionRoutes {
  private readonly custom: CustomObjectsApi;

  constructor(
    config: KubeConfig,
    private readonly where: KubeRoutePlacement,
    private readonly probe: IngressProbe,
  ) {
    this.custom = config.makeApiClient(CustomObjectsApi);
  }

  /** Where the objects of one of Traefik's kinds are, in the sessions' namespace. */
  private at(plural: string) {
    return { group: TRAEFIK_CRD.group, version: TRAEFIK_CRD.version, namespace: this.where.namespace, plural };
  }

  /**
   * Makes, or brings up to date, what every session's routes name (kubeSharedRouteObjects): run
   * at the worker's start, so a new release's middlewares replace the last one's. Their names
   * are fixed, so a sessions' namespace serves one stack: another stack's are refused, not taken
   * over (its sessions' ForwardAuth would ask this stack's API).
   */
  async ensureShared(apiUpstream: string): Promise<void> {
    for (const body of kubeSharedRouteObjects(this.where, apiUpstream)) {
      const plural = body.kind === 'Middleware' ? TRAEFIK_CRD.middlewares : TRAEFIK_CRD.serversTransports;
      const at = this.at(plural);
      for (let attempt = 1; ; attempt++) {
        try {
          await this.custom.createNamespacedCustomObject({ ...at, body, fieldValidation: 'Strict' });
          break;
        } catch (err) {
          if (statusOf(err) !== 409) throw err;
        }
        const current = (await this.custom.getNamespacedCustomObject({ ...at, name: body.metadata.name })) as KubeCustomObject & { metadata: { resourceVersion?: string } };
        const owner = current.metadata.labels?.[KUBE_LABELS.stack];
        if (owner !== this.where.stack) {
          throw new Error(`the ${body.kind} ${body.metadata.name} in namespace ${this.where.namespace} belongs to stack ${owner ?? '(none)'}, not ${this.where.stack}: give each stack a sessions' namespace of its own`);
        }
        try {
          const replacement = { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata.resourceVersion } };
          await this.custom.replaceNamespacedCustomObject({ ...at, name: body.metadata.name, body: replacement, fieldValidation: 'Strict' });
          break;
        } catch (err) {
          // Another worker of the stack replaced it meanwhile (both starting): read it again.
          if (statusOf(err) !== 409 || attempt >= 5) throw err;
        }
      }
    }
  }

  /** The route to the session's Service by name: the target's address is the pod's, which the Service already follows. */
  async add(target: RouteTarget): Promise<void> {
    const { ingressRoute, ingressRouteTcp } = kubeSessionRoutes(target.sessionId, this.where);
    const create = (plural: string, body: object) => () =>
      // Strict: a field Traefik's schema does not know fails the create instead of being dropped.
      this.custom.createNamespacedCustomObject({ ...this.at(plural), body, fieldValidation: 'Strict' });
    await keepExisting(create(TRAEFIK_CRD.ingressRoutes, ingressRoute));
    await keepExisting(create(TRAEFIK_CRD.ingressRouteTcps, ingressRouteTcp));
  }

  waitUntilLive(sessionId: string, timeoutMs?: number): Promise<void> {
    // The browser host's certificate is the cluster ingress's (the operator's TLS store), not ours.
    return untilRoutesLive(this.probe, this.where.domain, sessionId, timeoutMs, 'operator');
  }

  async remove(sessionId: string): Promise<void> {
    for (const plural of [TRAEFIK_CRD.ingressRoutes, TRAEFIK_CRD.ingressRouteTcps]) {
      await goneIsDone(() => this.custom.deleteNamespacedCustomObject({ ...this.at(plural), name: kubeSessionName(sessionId) }));
    }
  }

  /** The sessions with a route of either kind, each with when its newest was made (as the reconciler counts a session's age). */
  async list(): Promise<Array<{ sessionId: string; since: number }>> {
    const labelSelector = kubeStackSelector(this.where.stack);
    const found = new Map<string, number>();
    for (const plural of [TRAEFIK_CRD.ingressRoutes, TRAEFIK_CRD.ingressRouteTcps]) {
      const listed = (await this.custom.listNamespacedCustomObject({ ...this.at(plural), labelSelector })) as {
        items: Array<{ metadata?: { labels?: Record<string, string>; creationTimestamp?: string } }>;
      };
      for (const item of listed.items) {
        const sessionId = item.metadata?.labels?.[KUBE_LABELS.session];
        if (!sessionId) continue;
        const since = Date.parse(item.metadata?.creationTimestamp ?? '') || 0;
        found.set(sessionId, Math.max(found.get(sessionId) ?? since, since));
      }
    }
    return [...found].map(([sessionId, since]) => ({ sessionId, since }));
  }

  collectLeftovers(): Promise<number> {
    return Promise.resolve(0);
  }
}
