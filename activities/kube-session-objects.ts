/**
 * What a session is on Kubernetes (issue 17's runtime, first part): the objects a session's pod
 * needs, built from its spec with the same hardening as its Docker container
 * (docker-session-runtime.ts): the session's user, a read-only root, every capability dropped, no
 * privilege escalation, the runtime's default seccomp profile, a user namespace of its own
 * (`hostUsers: false`), limits from the user's quota; its certificate and keys in a Secret mounted
 * read-only where the container's files are; a Service for its xpra ports; a NetworkPolicy that
 * admits only the ingress and lets it out to the public internet only (the ranges the Docker
 * hosts' firewall refuses, refused here too). The files a session gets after its pod started (a
 * warm pod's token key and URL, an account change's token bound) are written by the worker's exec
 * in a sidecar of the pod, the one container that may write them (kube-live-files.ts).
 */
import { createHash } from 'node:crypto';
import type { V1Container, V1NetworkPolicy, V1PersistentVolumeClaim, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import { launchOf } from '../core/catalog.js';
import { appWindowWait } from './app-window-command.js';
import { ENTRYPOINT, SESSION_MIDDLEWARES, XPRA_SSL_PORT, XPRA_WS_PORT } from '../core/ingress-names.js';
import { SESSION_SERVERS_TRANSPORT, sessionMiddlewares, sessionRouteRules } from '../core/traefik-dynamic-config.js';
import type { SessionSpec } from '../workflows/messages.js';
import { REFUSED_IPV4_RANGES, type ResolvedOpening } from './session-firewall.js';
import { FILES, SESSION_FILES_MOUNT, SESSION_UID } from './session-files.js';
import { sessionEnvironment, xpraArguments, type TokenFiles } from './xpra-arguments.js';

/** The labels every object of a session carries: the runtime finds, and removes, a session's objects by them. */
export const KUBE_LABELS = {
  managed: 'hackstream.io/managed',
  session: 'hackstream.io/session',
  user: 'hackstream.io/user',
  app: 'hackstream.io/app',
  /** ephemeral or persist: the pods that write a user's profile are the latter. */
  profile: 'hackstream.io/profile',
  stack: 'hackstream.io/stack',
  /** On the pods made for a warm pool (its name in KUBE_POOL_ANNOTATION), claimed or not. */
  warm: 'hackstream.io/warm',
} as const;

/** Which pool a warm pod was made for (the node's pool label, container-labels.ts poolLabel). */
export const KUBE_POOL_ANNOTATION = 'hackstream.io/pool';

/** The class of the app's main window, on the pod: what the worker asks to close when the session ends. */
export const KUBE_WINDOW_CLASS_ANNOTATION = 'hackstream.io/window-class';

/** Where the pods of the ingress are, for the NetworkPolicy that admits only them. */
export interface KubeIngressPeer {
  namespace: string;
  podLabels: Record<string, string>;
}

export interface KubeSessionPlacement {
  namespace: string;
  /** The stack the objects belong to (a cluster may run more than one). */
  stack: string;
  ingress: KubeIngressPeer;
  /** A node to bind the pod to; absent: the cluster's scheduler places it (by `nodeLabels`). */
  nodeName?: string;
  /** The storage class of persistent profiles' claims; absent: the cluster's default. */
  profileStorageClass?: string;
  /**
   * How long a session's pod stays bound to a node that stopped answering (not ready or
   * unreachable) before the cluster evicts it; absent: DEFAULT_NODE_LOST_AFTER_SECONDS. A session
   * cannot move to another node, so there is nothing to wait for beyond a short blip.
   */
  nodeLostAfterSeconds?: number;
  /** Whether pods' memory may be merged with other sessions' on their node (ContainerOptions). */
  memoryMerge?: boolean;
  /**
   * false: pods use the node's user ids (no `hostUsers: false`), for clusters whose container
   * runtime has no user namespaces (containerd before 2.0 refuses such a pod's sandbox). Absent:
   * each pod in a user namespace of its own, as a Docker node's sessions are.
   */
  userNamespaces?: boolean;
}

export const DEFAULT_NODE_LOST_AFTER_SECONDS = 30;

/** The name of the container of a session's pod that runs its app. */
export const KUBE_SESSION_CONTAINER = 'session';

/**
 * The pod's sidecar that holds the files it gets after its start (LIVE_FILES_MOUNT): the worker's
 * exec runs images/session/session-file.sh in it. It runs as a user of its own, in the session's
 * group, and is the only container that may write them: the session's sees them read-only, so
 * nothing in a session rewrites its own token key or unrefuses a revoked token.
 */
export const KUBE_FILES_CONTAINER = 'session-files';
/** Where a pod's files from after its start are (an emptyDir in memory). */
export const LIVE_FILES_MOUNT = '/run/hackstream-live';
/** The files sidecar's user: not the session's, and not root. */
const FILES_WRITER_UID = SESSION_UID + 1;
/** The sidecar sleeps between execs: this is more than it uses, and its requests equal its limits (the pod stays Guaranteed). */
const FILES_CONTAINER_LIMITS = { cpu: '10m', memory: '16Mi' };
/**
 * What the sidecar runs: nothing but a wait that ends at the cluster's SIGTERM. A bare `sleep` as
 * its container's first process would ignore that signal, and the pod, which ends once its
 * sidecar has, would outlive its app by the whole grace period.
 */
export const KUBE_FILES_SIDECAR_COMMAND = ['sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 86400 & wait $!; done'];

/** The taints the cluster's node lifecycle puts on a node that stopped answering. */
export const NODE_GONE_TAINTS = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'] as const;

/** Where a session's routes go, and what of the ingress they name. */
export interface KubeRoutePlacement {
  namespace: string;
  stack: string;
  /** HACKSTREAM_DOMAIN: the sessions' names are under it (core/ingress-names.ts). */
  domain: string;
}

/**
 * Made once in the sessions' namespace, beside the session middlewares (SESSION_MIDDLEWARES), by
 * the worker at its start (KubeSessionRoutes.ensureShared): how Traefik talks to sessions'
 * browser ports (idle connections closed soon, SESSION_IDLE_CONNECTION_SECONDS, as on a host).
 */
export const KUBE_SESSION_TRANSPORT = 'hackstream-session-transport';

/** Traefik's custom resources the routes are (its CRDs must be installed with Traefik). */
export const TRAEFIK_CRD = {
  group: 'traefik.io',
  version: 'v1alpha1',
  ingressRoutes: 'ingressroutes',
  ingressRouteTcps: 'ingressroutetcps',
  middlewares: 'middlewares',
  serversTransports: 'serverstransports',
} as const;
const TRAEFIK_API_VERSION = `${TRAEFIK_CRD.group}/${TRAEFIK_CRD.version}`;

export interface KubeRouteObjects {
  /** The browser host and the bundled client under it, through the session middlewares, to the Service's browser port. */
  ingressRoute: KubeCustomObject;
  /** The native TLS name, passed through to the Service's TLS port (the session's xpra terminates it). */
  ingressRouteTcp: KubeCustomObject;
}

export interface KubeCustomObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
}

/**
 * What every session's routes name, made once in the sessions' namespace: the session middlewares
 * (the same specs as the API's Traefik file on a host, `apiUpstream` the API's address inside the
 * cluster, for the ForwardAuth check) and the transport to sessions' browser ports.
 */
export function kubeSharedRouteObjects(where: Pick<KubeRoutePlacement, 'namespace' | 'stack'>, apiUpstream: string): KubeCustomObject[] {
  const metadata = (name: string) => ({ name, namespace: where.namespace, labels: kubeStackLabels(where.stack) });
  const middlewares = Object.entries(sessionMiddlewares(apiUpstream)).map(([name, spec]) => ({
    apiVersion: TRAEFIK_API_VERSION,
    kind: 'Middleware',
    metadata: metadata(name),
    spec: spec as Record<string, unknown>,
  }));
  return [...middlewares, { apiVersion: TRAEFIK_API_VERSION, kind: 'ServersTransport', metadata: metadata(KUBE_SESSION_TRANSPORT), spec: structuredClone(SESSION_SERVERS_TRANSPORT) }];
}

/** A session's Traefik routes to its Service, with the same rules as the file provider's (core/traefik-dynamic-config.ts). */
export function kubeSessionRoutes(sessionId: string, where: KubeRoutePlacement): KubeRouteObjects {
  const metadata = {
    name: kubeSessionName(sessionId),
    namespace: where.namespace,
    labels: { ...kubeStackLabels(where.stack), [KUBE_LABELS.session]: sessionId },
  };
  const rules = sessionRouteRules(sessionId, where.domain);
  const service = (port: number) => ({ name: kubeSessionName(sessionId), port });
  const apiVersion = TRAEFIK_API_VERSION;
  // Headers first (so refusals carry them too), the ForwardAuth check last, as on a host.
  const webRoute = (match: string, ...extra: string[]) => ({
    kind: 'Rule',
    match,
    middlewares: [SESSION_MIDDLEWARES.sessionHeaders, ...extra, SESSION_MIDDLEWARES.connectAuth].map((name) => ({ name })),
    services: [{ ...service(XPRA_WS_PORT), serversTransport: KUBE_SESSION_TRANSPORT }],
  });
  return {
    ingressRoute: {
      apiVersion,
      kind: 'IngressRoute',
      metadata,
      spec: { entryPoints: [ENTRYPOINT], routes: [webRoute(rules.web), webRoute(rules.bundle, SESSION_MIDDLEWARES.bundleCache)], tls: {} },
    },
    ingressRouteTcp: {
      apiVersion,
      kind: 'IngressRouteTCP',
      metadata,
      spec: { entryPoints: [ENTRYPOINT], routes: [{ match: rules.native, services: [service(XPRA_SSL_PORT)] }], tls: { passthrough: true } },
    },
  };
}

export interface KubeSessionObjects {
  secret: V1Secret;
  pod: V1Pod;
  service: V1Service;
  networkPolicy: V1NetworkPolicy;
}

/** The name of every object of a session (a DNS label: `hs-` and the session's UUID). */
export const kubeSessionName = (sessionId: string): string => `hs-${sessionId}`;

export const kubeSessionSelector = (sessionId: string): string => `${KUBE_LABELS.session}=${sessionId}`;

/** The labels of everything a stack made (a cluster may run more than one stack, each in a sessions' namespace of its own). */
export const kubeStackLabels = (stack: string): Record<string, string> => ({ [KUBE_LABELS.managed]: 'true', [KUBE_LABELS.stack]: stack });

/** Everything a stack made, as a label selector. */
export const kubeStackSelector = (stack: string): string =>
  Object.entries(kubeStackLabels(stack))
    .map(([key, value]) => `${key}=${value}`)
    .join(',');

/** A user's persistent profile of an app: one claim each (a DNS label whatever the app's name's length). */
export const kubeProfileClaimName = (userId: string, app: string): string =>
  `hs-profile-${createHash('sha256').update(`${userId}/${app}`).digest('hex').slice(0, 24)}`;

/** The persistent sessions' pods of a user's app, whichever session: its profile has one writer among them. */
export const kubeProfileSelector = (userId: string, app: string, stack: string): string =>
  `${kubeStackSelector(stack)},${KUBE_LABELS.user}=${userId},${KUBE_LABELS.app}=${app},${KUBE_LABELS.profile}=persist`;

/**
 * A persistent profile's volume claim, as large as the user's storage quota allows it
 * (`profileCapMb`), mountable by one pod at a time (ReadWriteOncePod: the cluster refuses a
 * second writer too). It outlives its sessions: only a profile's deletion removes it.
 */
export function kubeProfileClaim(spec: SessionSpec, where: KubeSessionPlacement): V1PersistentVolumeClaim {
  if (spec.profile !== 'persist' || spec.profileCapMb === undefined) throw new Error(`session ${spec.sessionId} has no persistent profile`);
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: kubeProfileClaimName(spec.userId, spec.app),
      namespace: where.namespace,
      labels: { ...kubeStackLabels(where.stack), [KUBE_LABELS.user]: spec.userId, [KUBE_LABELS.app]: spec.app },
    },
    spec: {
      accessModes: ['ReadWriteOncePod'],
      resources: { requests: { storage: `${spec.profileCapMb}Mi` } },
      ...(where.profileStorageClass ? { storageClassName: where.profileStorageClass } : {}),
    },
  };
}


/** How long one startup probe waits for the app's window. */
const READINESS_WAIT_SECONDS = 2;

/** The session's user (the image's `hs`), never root; the runtime's default system call filter. */
const POD_SECURITY = { runAsUser: SESSION_UID, runAsGroup: SESSION_UID, runAsNonRoot: true, fsGroup: SESSION_UID, seccompProfile: { type: 'RuntimeDefault' } };
/** As the Docker containers: no capability, no privilege escalation, nothing written outside its volumes. */
const CONTAINER_SECURITY = { allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };

interface SessionMeta {
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  selector: Record<string, string>;
}

/**
 * `openings`: the role's egress openings, resolved (session-firewall.ts resolveOpenings); `pool`:
 * the pod is made for that warm pool (it waits for its session's token key and URL, and its
 * user label stays `pool` once claimed: the session's user is in the database).
 */
export function kubeSessionObjects(spec: SessionSpec, files: Record<string, string>, where: KubeSessionPlacement, openings: readonly ResolvedOpening[] = [], pool?: string): KubeSessionObjects {
  const labels = {
    ...kubeStackLabels(where.stack),
    [KUBE_LABELS.session]: spec.sessionId,
    [KUBE_LABELS.user]: spec.userId,
    [KUBE_LABELS.app]: spec.app,
    [KUBE_LABELS.profile]: spec.profile,
    ...(pool === undefined ? {} : { [KUBE_LABELS.warm]: 'true' }),
  };
  const meta: SessionMeta = {
    metadata: { name: kubeSessionName(spec.sessionId), namespace: where.namespace, labels },
    selector: { [KUBE_LABELS.session]: spec.sessionId },
  };
  return {
    secret: { apiVersion: 'v1', kind: 'Secret', metadata: meta.metadata, type: 'Opaque', stringData: files, immutable: true },
    pod: sessionPod(spec, meta, where, pool),
    service: sessionService(meta),
    networkPolicy: sessionNetworkPolicy(meta, where.ingress, openings),
  };
}

/** A session's container's limits, from its resources (requests equal to limits). */
export const kubeSessionLimits = ({ memoryMb, cpus }: SessionSpec['resources']): { memory: string; cpu: string } => ({ memory: `${memoryMb}Mi`, cpu: `${Math.round(cpus * 1000)}m` });

/**
 * Where the pod's token check reads: a cold pod's key is in its Secret from the start; a warm
 * pod's comes with its claim, and every pod's token bound with an account change, both into the
 * files sidecar's directory.
 */
const podTokenFiles = (warm: boolean): TokenFiles => ({
  tokenPublicKey: `${warm ? LIVE_FILES_MOUNT : SESSION_FILES_MOUNT}/${FILES.tokenPublicKey}`,
  tokensRefusedUntil: `${LIVE_FILES_MOUNT}/${FILES.tokensRefusedUntil}`,
});

const LIVE_DIR_ENV = { name: 'HACKSTREAM_LIVE_DIR', value: LIVE_FILES_MOUNT };

/**
 * The files sidecar (KUBE_FILES_CONTAINER), a native one: started before the session's
 * container, ended by the cluster once that one has (the pod then ends with its app, as a
 * Docker container does).
 */
function filesSidecar(image: string): V1Container {
  return {
    name: KUBE_FILES_CONTAINER,
    image,
    imagePullPolicy: 'IfNotPresent',
    restartPolicy: 'Always',
    command: KUBE_FILES_SIDECAR_COMMAND,
    env: [LIVE_DIR_ENV],
    resources: { requests: FILES_CONTAINER_LIMITS, limits: FILES_CONTAINER_LIMITS },
    securityContext: { ...CONTAINER_SECURITY, runAsUser: FILES_WRITER_UID, runAsGroup: SESSION_UID },
    volumeMounts: [{ name: 'live-files', mountPath: LIVE_FILES_MOUNT }],
  };
}

function sessionPod(spec: SessionSpec, { metadata }: SessionMeta, where: KubeSessionPlacement, pool: string | undefined): V1Pod {
  const launch = launchOf(spec);
  const { shmMb } = spec.resources;
  const env = [...Object.entries(sessionEnvironment(spec, { warm: pool !== undefined, memoryMerge: where.memoryMerge })).map(([name, value]) => ({ name, value })), LIVE_DIR_ENV];
  const limits = kubeSessionLimits(spec.resources);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...metadata, annotations: { [KUBE_WINDOW_CLASS_ANNOTATION]: launch.windowClass, ...(pool === undefined ? {} : { [KUBE_POOL_ANNOTATION]: pool }) } },
    spec: {
      ...(where.nodeName ? { nodeName: where.nodeName } : {}),
      ...(spec.nodeLabels ? { nodeSelector: spec.nodeLabels } : {}),
      restartPolicy: 'Never',
      // Evicted soon from a node gone silent (the cluster's default waits five minutes): the
      // eviction is what tells the session monitor the node was lost (kube-session-runtime.ts).
      tolerations: NODE_GONE_TAINTS.map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: where.nodeLostAfterSeconds ?? DEFAULT_NODE_LOST_AFTER_SECONDS })),
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(where.userNamespaces === false ? {} : { hostUsers: false }),
      securityContext: POD_SECURITY,
      initContainers: [filesSidecar(spec.image)],
      containers: [
        {
          name: KUBE_SESSION_CONTAINER,
          image: spec.image,
          imagePullPolicy: 'IfNotPresent',
          args: xpraArguments(spec, podTokenFiles(pool !== undefined)),
          env,
          ports: [
            { name: 'xpra-ws', containerPort: XPRA_WS_PORT, protocol: 'TCP' },
            { name: 'xpra-ssl', containerPort: XPRA_SSL_PORT, protocol: 'TCP' },
          ],
          // Requests equal to limits: the node reserves what the session may use (Guaranteed).
          resources: { requests: limits, limits },
          // Ready once the app's window is up, as the Docker runtime's start waits for it: the
          // worker takes the pod's readiness for it (kube-container-runtime.ts appWindow). A
          // startup probe, not a readiness probe: it stops once it succeeds (no process a second
          // for the session's whole life), and a pod whose app never shows within the session's
          // ready time is ended.
          startupProbe: {
            exec: { command: appWindowWait(launch.windowClass, READINESS_WAIT_SECONDS) },
            periodSeconds: 1,
            timeoutSeconds: READINESS_WAIT_SECONDS + 5,
            // A failing probe waits its READINESS_WAIT_SECONDS: so many fit the ready time.
            failureThreshold: Math.max(1, Math.ceil(spec.timeouts.readySeconds / READINESS_WAIT_SECONDS)),
          },
          securityContext: CONTAINER_SECURITY,
          volumeMounts: [
            { name: 'session-files', mountPath: SESSION_FILES_MOUNT, readOnly: true },
            { name: 'live-files', mountPath: LIVE_FILES_MOUNT, readOnly: true },
            { name: 'tmp', mountPath: '/tmp' },
            { name: 'home', mountPath: '/home/hs' },
            { name: 'shm', mountPath: '/dev/shm' },
            ...(spec.profile === 'persist' ? [{ name: 'profile', mountPath: launch.dataDir }] : []),
          ],
        },
      ],
      volumes: [
        // Readable by the session's group (fsGroup), which owns the files: the session's user reads its key.
        { name: 'session-files', secret: { secretName: metadata.name, defaultMode: 0o440 } },
        { name: 'live-files', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
        { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '256Mi' } },
        { name: 'home', emptyDir: { medium: 'Memory', sizeLimit: '512Mi' } },
        { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: `${shmMb}Mi` } },
        ...(spec.profile === 'persist' ? [{ name: 'profile', persistentVolumeClaim: { claimName: kubeProfileClaimName(spec.userId, spec.app) } }] : []),
      ],
    },
  };
}

function sessionService({ metadata, selector }: SessionMeta): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: {
      selector,
      ports: [
        { name: 'xpra-ws', port: XPRA_WS_PORT, targetPort: XPRA_WS_PORT, protocol: 'TCP' },
        { name: 'xpra-ssl', port: XPRA_SSL_PORT, targetPort: XPRA_SSL_PORT, protocol: 'TCP' },
      ],
    },
  };
}

function sessionNetworkPolicy({ metadata, selector }: SessionMeta, ingress: KubeIngressPeer, openings: readonly ResolvedOpening[]): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata,
    spec: {
      podSelector: { matchLabels: selector },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          _from: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ingress.namespace } },
              podSelector: { matchLabels: ingress.podLabels },
            },
          ],
          ports: [
            { port: XPRA_WS_PORT, protocol: 'TCP' },
            { port: XPRA_SSL_PORT, protocol: 'TCP' },
          ],
        },
      ],
      egress: kubeEgressRules(openings),
    },
  };
}

/**
 * What a session's pod may reach: names through the cluster's DNS, the public internet, and its
 * role's openings beyond it (a private range, a host), as the host firewall opens them. A warm pod
 * starts with none; its claim puts its session's in (KubeSessionRuntime.updateEgress).
 */
export function kubeEgressRules(openings: readonly ResolvedOpening[]): NonNullable<NonNullable<V1NetworkPolicy['spec']>['egress']> {
  return [
    { to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] },
    { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: [...REFUSED_IPV4_RANGES] } }] },
    ...openings.map(({ address, port }) => ({
      to: [{ ipBlock: { cidr: address.includes('/') ? address : `${address}/32` } }],
      ...(port === undefined ? {} : { ports: [{ port, protocol: 'TCP' }, { port, protocol: 'UDP' }] }),
    })),
  ];
}
