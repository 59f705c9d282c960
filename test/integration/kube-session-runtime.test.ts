/**
 * The Kubernetes runtime's first part against a real control plane (etcd, kube-apiserver, kwok
 * for the nodes and the pods' status, kube-controller-manager's node lifecycle and taint eviction;
 * no kubelet, so the pods do not really run): a session's objects as the API server stores them,
 * hardening included; readiness from the pod's status; retries create nothing twice; removal
 * leaves nothing of the session; the session monitor tells a session whose node stopped
 * answering that it was lost, and one whose app ended that it exited.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, CustomObjectsApi, NetworkingV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_NODE_LOST_AFTER_SECONDS,
  KUBE_FILES_CONTAINER,
  KUBE_FILES_SIDECAR_COMMAND,
  KUBE_LABELS,
  KUBE_POOL_ANNOTATION,
  KUBE_SESSION_TRANSPORT,
  LIVE_FILES_MOUNT,
  kubeProfileClaimName,
  kubeSessionName,
  kubeSessionSelector,
  type KubeSessionPlacement,
} from '../../activities/kube-session-objects.js';
import { KubeSessionRoutes } from '../../activities/kube-session-routes.js';
import { KubeSessionRuntime } from '../../activities/kube-session-runtime.js';
import { createLogger } from '../../core/logger.js';
import { KubeSessionMonitor } from '../../worker/kube-session-monitor.js';
import { REFUSED_IPV4_RANGES } from '../../activities/session-firewall.js';
import { FILES, SESSION_FILES_MOUNT, SESSION_UID } from '../../activities/session-files.js';
import { launchOf } from '../../core/catalog.js';
import { SESSION_MIDDLEWARES, sessionTlsName, sessionWebHost, XPRA_SSL_PORT, XPRA_WS_PORT } from '../../core/ingress-names.js';
import { endPodAsKubelet, reportResourcesAsKubelet, startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { startKubeIngress } from '../support/kube-ingress.js';
import { testSessionSpec } from '../support/session-spec.js';
import { until } from '../support/until.js';

const NAMESPACE = 'hackstream-sessions';

let cp: KubeControlPlane;
let core: CoreV1Api;
let networking: NetworkingV1Api;
let runtime: KubeSessionRuntime;
let placement: KubeSessionPlacement;

beforeAll(async () => {
  cp = await startKubeControlPlane({ controllerManager: true, traefikCrds: true });
  await cp.createNamespace(NAMESPACE);
  core = cp.config.makeApiClient(CoreV1Api);
  networking = cp.config.makeApiClient(NetworkingV1Api);
  placement = {
    namespace: NAMESPACE,
    stack: 'kube-test',
    ingress: { namespace: 'hackstream', podLabels: { 'app.kubernetes.io/name': 'traefik' } },
    nodeName: cp.nodeName,
  };
  runtime = new KubeSessionRuntime(cp.config, placement);
}, 180_000);

afterAll(async () => {
  await cp?.stop();
});

const files = { 'tls-cert.pem': 'CERT', 'tls-key.pem': 'KEY', 'token.pub': 'PUB' };

describe('the Kubernetes session runtime', () => {
  it('creates a session as a hardened pod with its secret, service and network policy, ready when the cluster says so', async () => {
    // A role with egress openings: a private range on every port, and one address on one port.
    const spec = testSessionSpec('hackstream/session-firefox:test', {
      url: 'https://example.com/',
      nodeLabels: { type: 'kwok' },
      policy: { clipboard: true, fileTransfer: false, egress: ['10.20.0.0/16', '192.0.2.7:5432'] },
    });
    const created = await runtime.ensureSession(spec, files);
    expect(created.name).toBe(kubeSessionName(spec.sessionId));

    // As the API server stores it (its defaults applied, nothing it dropped).
    const pod = await core.readNamespacedPod({ namespace: NAMESPACE, name: kubeSessionName(spec.sessionId) });
    expect(pod.metadata?.labels).toMatchObject({ [KUBE_LABELS.session]: spec.sessionId, [KUBE_LABELS.user]: spec.userId, [KUBE_LABELS.app]: 'firefox', [KUBE_LABELS.managed]: 'true' });
    expect(pod.spec).toMatchObject({
      hostUsers: false,
      automountServiceAccountToken: false,
      restartPolicy: 'Never',
      nodeSelector: { type: 'kwok' },
      securityContext: { runAsUser: SESSION_UID, runAsGroup: SESSION_UID, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    });
    const [container] = pod.spec!.containers;
    expect(container!.securityContext).toMatchObject({ allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(container!.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '500m', memory: '1Gi' } });
    expect(container!.image).toBe(spec.image);
    // Evicted soon from a node that stops answering, not after the cluster's five minutes.
    for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
      expect(pod.spec?.tolerations).toContainEqual({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: DEFAULT_NODE_LOST_AFTER_SECONDS });
    }
    expect(container!.args).toContain('--clipboard=yes');
    expect(container!.env).toEqual(expect.arrayContaining([{ name: 'HACKSTREAM_URL', value: 'https://example.com/' }]));
    // Memory merging only where the worker allows it (HACKSTREAM_SESSION_MEMORY_MERGE): not here.
    expect(container!.env?.map((e) => e.name)).not.toContain('HACKSTREAM_MEMORY_MERGE');
    expect(container!.volumeMounts).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'session-files', mountPath: SESSION_FILES_MOUNT, readOnly: true })]));
    // A cold pod's token key is in its Secret; the bound of an account change comes later, into
    // the files only the sidecar writes: the session's container reads them, read-only.
    expect(container!.args).toContain(`--ssl-auth=hackstream:pubkey=${SESSION_FILES_MOUNT}/${FILES.tokenPublicKey},refused_until=${LIVE_FILES_MOUNT}/${FILES.tokensRefusedUntil}`);
    expect(container!.volumeMounts).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'live-files', mountPath: LIVE_FILES_MOUNT, readOnly: true })]));
    const [sidecar] = pod.spec!.initContainers ?? [];
    expect(sidecar).toMatchObject({ name: KUBE_FILES_CONTAINER, restartPolicy: 'Always', image: spec.image, command: KUBE_FILES_SIDECAR_COMMAND, volumeMounts: [{ name: 'live-files', mountPath: LIVE_FILES_MOUNT }] });
    // Hardened as the session's container, as a user of its own (neither the session's nor root).
    expect(sidecar!.securityContext).toMatchObject({ allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, runAsGroup: SESSION_UID });
    expect(sidecar!.securityContext?.runAsUser).not.toBe(SESSION_UID);
    expect(sidecar!.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(pod.spec?.volumes).toContainEqual(expect.objectContaining({ name: 'live-files', emptyDir: expect.objectContaining({ medium: 'Memory' }) }));
    // Guaranteed: requests equal to limits, so the node reserves what the session may use.
    expect(pod.status?.qosClass).toBe('Guaranteed');

    const secret = await core.readNamespacedSecret({ namespace: NAMESPACE, name: kubeSessionName(spec.sessionId) });
    expect(secret.immutable).toBe(true);
    expect(Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))).toEqual(files);

    const service = await core.readNamespacedService({ namespace: NAMESPACE, name: kubeSessionName(spec.sessionId) });
    expect(service.spec?.selector).toEqual({ [KUBE_LABELS.session]: spec.sessionId });
    expect(service.spec?.ports?.map((p) => p.port).sort()).toEqual([XPRA_WS_PORT, XPRA_SSL_PORT].sort());

    const policy = await networking.readNamespacedNetworkPolicy({ namespace: NAMESPACE, name: kubeSessionName(spec.sessionId) });
    expect(policy.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec?.ingress?.[0]?._from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'hackstream' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'traefik' } } },
    ]);
    const byBlock = policy.spec?.egress?.filter((e) => e.to?.some((t) => t.ipBlock)).map((e) => ({ to: e.to?.map((t) => t.ipBlock), ports: e.ports ?? null }));
    expect(byBlock).toEqual([
      // The public internet only...
      { to: [{ cidr: '0.0.0.0/0', except: [...REFUSED_IPV4_RANGES] }], ports: null },
      // ...and the role's openings beyond it.
      { to: [{ cidr: '10.20.0.0/16' }], ports: null },
      { to: [{ cidr: '192.0.2.7/32' }], ports: [{ port: 5432, protocol: 'TCP' }, { port: 5432, protocol: 'UDP' }] },
    ]);

    // kwok plays the kubelet: the pod runs, gets an address and is ready.
    const ready = await until('the session pod ready', async () => {
      const state = await runtime.podState(spec.sessionId);
      return state?.ready ? state : null;
    }, 30_000);
    expect(ready).toMatchObject({ phase: 'Running', nodeName: cp.nodeName, ip: expect.stringMatching(/^\d+\.\d+\.\d+\.\d+$/) });
    await runtime.removeSession(spec.sessionId);
  });

  it("makes a warm pod that waits for its token key and URL; a claim opens its role's egress and resizes it in place", async () => {
    const spec = testSessionSpec('hackstream/session-firefox:test', { userId: 'pool' });
    // Warm: no token key in its Secret (nobody gets in until a claim writes one).
    await runtime.ensureSession(spec, { [FILES.cert]: 'CERT', [FILES.key]: 'KEY' }, 'kube-test.firefox-auto');
    const name = kubeSessionName(spec.sessionId);
    const pod = await core.readNamespacedPod({ namespace: NAMESPACE, name });
    expect(pod.metadata?.labels?.[KUBE_LABELS.warm]).toBe('true');
    expect(pod.metadata?.annotations?.[KUBE_POOL_ANNOTATION]).toBe('kube-test.firefox-auto');
    const [container] = pod.spec!.containers;
    expect(container!.args).toContain(`--ssl-auth=hackstream:pubkey=${LIVE_FILES_MOUNT}/${FILES.tokenPublicKey},refused_until=${LIVE_FILES_MOUNT}/${FILES.tokensRefusedUntil}`);
    expect(container!.env).toEqual(expect.arrayContaining([{ name: 'HACKSTREAM_WARM', value: '1' }, { name: 'HACKSTREAM_LIVE_DIR', value: LIVE_FILES_MOUNT }]));
    expect((await runtime.listManaged()).find((m) => m.sessionId === spec.sessionId)?.state.pool).toBe('kube-test.firefox-auto');

    // The claim: its session's egress openings into its NetworkPolicy...
    expect(await runtime.updateEgress(spec.sessionId, [{ address: '10.20.0.0/16' }])).toBe(true);
    const policy = await networking.readNamespacedNetworkPolicy({ namespace: NAMESPACE, name });
    expect(policy.spec?.egress?.flatMap((e) => e.to ?? []).map((t) => t.ipBlock?.cidr)).toEqual(expect.arrayContaining(['0.0.0.0/0', '10.20.0.0/16']));
    expect(policy.spec?.ingress).toHaveLength(1);
    // ...and its user's limits, in place (the pod's resize), still Guaranteed.
    await until('the warm pod running', async () => ((await runtime.podState(spec.sessionId))?.ready ? true : null), 30_000);
    await reportResourcesAsKubelet(core, NAMESPACE, name);
    await runtime.resize(spec.sessionId, { ...spec.resources, memoryMb: 1536, cpus: 0.75 });
    const resized = await core.readNamespacedPod({ namespace: NAMESPACE, name });
    expect(resized.metadata?.uid).toBe(pod.metadata?.uid);
    expect(resized.spec?.containers[0]?.resources).toEqual({ requests: { cpu: '750m', memory: '1536Mi' }, limits: { cpu: '750m', memory: '1536Mi' } });
    expect(resized.status?.qosClass).toBe('Guaranteed');
    // A session without a pod: nothing to patch.
    expect(await runtime.updateEgress(randomUUID(), [])).toBe(false);
    expect(await runtime.writeLiveFile(randomUUID(), FILES.openUrl, 'https://example.com/')).toBe(false);
    // One line each, read up to its newline by the sidecar's script: nothing can add a second.
    await expect(runtime.writeLiveFile(spec.sessionId, FILES.openUrl, 'https://example.com/\nhttps://example.org/')).rejects.toThrow(/not one line/);
    await runtime.removeSession(spec.sessionId);
  });

  it('asks nothing of the cluster for a resize to the limits the pod has, however the API server writes them', async () => {
    // 1000m and 1024Mi, which the API server keeps as 1 and 1Gi.
    const spec = testSessionSpec('hackstream/session-firefox:test', { userId: 'pool' });
    const resources = { ...spec.resources, memoryMb: 1024, cpus: 1 };
    await runtime.ensureSession({ ...spec, resources }, { [FILES.cert]: 'CERT', [FILES.key]: 'KEY' }, 'kube-test.firefox-auto');
    await until('the warm pod running', async () => ((await runtime.podState(spec.sessionId))?.ready ? true : null), 30_000);
    const pod = await core.readNamespacedPod({ namespace: NAMESPACE, name: kubeSessionName(spec.sessionId) });
    expect(pod.spec?.containers[0]?.resources?.limits).toEqual({ cpu: '1', memory: '1Gi' });
    // This node's "kubelet" reports no resources (kwok): the API server refuses any resize of it.
    await runtime.resize(spec.sessionId, resources);
    await expect(runtime.resize(spec.sessionId, { ...resources, cpus: 0.5 })).rejects.toThrow(/without support for resize/);
    await runtime.removeSession(spec.sessionId);
  });

  it('makes a pod afresh when a retried start finds one that ended (it could never become ready)', async () => {
    const spec = testSessionSpec('hackstream/session-firefox:test');
    await runtime.ensureSession(spec, files);
    const name = kubeSessionName(spec.sessionId);
    const first = await until('the pod running', async () => {
      const pod = await core.readNamespacedPod({ namespace: NAMESPACE, name });
      return pod.status?.phase === 'Running' ? pod : null;
    }, 30_000);
    // Its app ended (as the kubelet would write it); a retried start comes.
    await endPodAsKubelet(core, NAMESPACE, name, { phase: 'Failed', exitCode: 1, reason: 'Error' });
    await runtime.ensureSession(spec, files);
    const again = await core.readNamespacedPod({ namespace: NAMESPACE, name });
    expect(again.metadata?.uid).not.toBe(first.metadata?.uid);
    expect(await until('the new pod ready', async () => ((await runtime.podState(spec.sessionId))?.ready ? true : null), 30_000)).toBe(true);
    await runtime.removeSession(spec.sessionId);
  });

  it('creates nothing twice when a create is retried, concurrently too', async () => {
    const spec = testSessionSpec('hackstream/session-firefox:test');
    const first = await runtime.ensureSession(spec, files);
    await Promise.all([runtime.ensureSession(spec, files), runtime.ensureSession(spec, files)]);
    const labelSelector = kubeSessionSelector(spec.sessionId);
    const pods = (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector })).items;
    expect(pods.map((p) => p.metadata?.name)).toEqual([first.name]);
    expect((await core.listNamespacedSecret({ namespace: NAMESPACE, labelSelector })).items).toHaveLength(1);
    expect((await core.listNamespacedService({ namespace: NAMESPACE, labelSelector })).items).toHaveLength(1);
    expect((await networking.listNamespacedNetworkPolicy({ namespace: NAMESPACE, labelSelector })).items).toHaveLength(1);
    expect((await runtime.listManaged()).map((m) => m.sessionId)).toContain(spec.sessionId);
    await runtime.removeSession(spec.sessionId);
  });

  it('lists every session it has any object of, a teardown cut short included, until its removal is finished', async () => {
    const spec = testSessionSpec('hackstream/session-firefox:test');
    await runtime.ensureSession(spec, files);
    expect((await runtime.inventory()).get(spec.sessionId)?.kinds).toEqual(new Set(['pod', 'service', 'secret', 'networkpolicy']));
    // A teardown that removed the pod and then stopped (a worker killed mid-way).
    await core.deleteNamespacedPod({ namespace: NAMESPACE, name: kubeSessionName(spec.sessionId), gracePeriodSeconds: 0 });
    await until('the pod gone', async () => ((await runtime.podState(spec.sessionId)) === null ? true : null), 30_000);
    const left = (await runtime.inventory()).get(spec.sessionId);
    expect(left?.kinds).toEqual(new Set(['service', 'secret', 'networkpolicy']));
    expect(left?.since).toBeGreaterThan(Date.now() - 120_000);
    expect(await runtime.removeSession(spec.sessionId)).toBe(0);
    expect((await runtime.inventory()).has(spec.sessionId)).toBe(false);
  });

  it('removes everything of a session, and a second removal finds nothing to do', async () => {
    const spec = testSessionSpec('hackstream/session-firefox:test');
    const other = testSessionSpec('hackstream/session-firefox:test');
    await runtime.ensureSession(spec, files);
    await runtime.ensureSession(other, files);
    expect(await runtime.removeSession(spec.sessionId)).toBe(1);
    const labelSelector = kubeSessionSelector(spec.sessionId);
    // The pod ends within its grace period (kwok finishes its deletion as a kubelet would).
    await until('the pod gone', async () => ((await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector })).items.length === 0 ? true : null), 30_000);
    expect((await core.listNamespacedSecret({ namespace: NAMESPACE, labelSelector })).items).toEqual([]);
    expect((await core.listNamespacedService({ namespace: NAMESPACE, labelSelector })).items).toEqual([]);
    expect((await networking.listNamespacedNetworkPolicy({ namespace: NAMESPACE, labelSelector })).items).toEqual([]);
    expect(await runtime.removeSession(spec.sessionId)).toBe(0);
    expect(await runtime.podState(spec.sessionId)).toBeNull();
    // Another session's objects are untouched.
    expect(await runtime.podState(other.sessionId)).not.toBeNull();
    await runtime.removeSession(other.sessionId);
  });

  it("mounts a persistent session's own claim, sized by its quota, one writer at a time; the claim outlives the session", async () => {
    const userId = randomUUID();
    const first = testSessionSpec('hackstream/session-firefox:test', { userId, profile: 'persist', profileCapMb: 300 });
    await runtime.ensureSession(first, files);
    const claimName = kubeProfileClaimName(userId, 'firefox');
    const claim = await core.readNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, name: claimName });
    expect(claim.spec?.accessModes).toEqual(['ReadWriteOncePod']);
    expect(claim.spec?.resources?.requests).toEqual({ storage: '300Mi' });
    expect(claim.metadata?.labels).toMatchObject({ [KUBE_LABELS.user]: userId, [KUBE_LABELS.app]: 'firefox' });
    const pod = await core.readNamespacedPod({ namespace: NAMESPACE, name: kubeSessionName(first.sessionId) });
    expect(pod.spec?.volumes).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'profile', persistentVolumeClaim: { claimName } })]));
    expect(pod.spec?.containers[0]!.volumeMounts).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'profile', mountPath: launchOf(first).dataDir })]));

    // A second session of the same user and app is refused while the first's pod lives; another
    // user's, or an ephemeral one of the same user, is not.
    const second = testSessionSpec('hackstream/session-firefox:test', { userId, profile: 'persist', profileCapMb: 300 });
    await expect(runtime.ensureSession(second, files)).rejects.toMatchObject({ name: 'ProfileInUseError', message: expect.stringContaining(first.sessionId) });
    expect(await runtime.podState(second.sessionId)).toBeNull();
    const ephemeral = testSessionSpec('hackstream/session-firefox:test', { userId });
    const stranger = testSessionSpec('hackstream/session-firefox:test', { profile: 'persist', profileCapMb: 100 });
    await runtime.ensureSession(ephemeral, files);
    await runtime.ensureSession(stranger, files);

    await runtime.removeSession(first.sessionId);
    await until('the first pod gone', async () => ((await runtime.podState(first.sessionId)) === null ? true : null), 30_000);
    expect((await core.readNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, name: claimName })).metadata?.name).toBe(claimName);
    await runtime.ensureSession(second, files);
    expect(await runtime.podState(second.sessionId)).not.toBeNull();
    for (const s of [second, ephemeral, stranger]) await runtime.removeSession(s.sessionId);
  });

  it('tells a session whose node stops answering that it was lost, one whose app ended that it exited; teardown removes both pods', async () => {
    const lostNode = `kwok-node-${randomUUID().slice(0, 8)}`;
    await cp.addNode(lostNode);
    const onLostNode = new KubeSessionRuntime(cp.config, { ...placement, stack: 'kube-monitor-test', nodeName: lostNode, nodeLostAfterSeconds: 1 });
    const onLiveNode = new KubeSessionRuntime(cp.config, { ...placement, stack: 'kube-monitor-test' });
    const told: string[] = [];
    const monitor = new KubeSessionMonitor({
      runtime: onLostNode,
      workflows: { nodeLost: async (id) => void told.push(`${id} node_lost`), appExited: async (id, exit) => void told.push(`${id} app_exited ${exit.exitCode}`) },
      logger: createLogger({ service: 'kube-monitor-test', level: 'error', json: false }),
    });
    const lost = testSessionSpec('hackstream/session-firefox:test');
    const exits = testSessionSpec('hackstream/session-firefox:test');
    const running = testSessionSpec('hackstream/session-firefox:test');
    await onLostNode.ensureSession(lost, files);
    await onLiveNode.ensureSession(exits, files);
    await onLiveNode.ensureSession(running, files);
    for (const s of [lost, exits, running]) await until('the session pod ready', async () => ((await onLostNode.podState(s.sessionId))?.ready ? true : null), 30_000);
    expect(await monitor.pass()).toEqual([]);

    // The app ends by itself: its pod's status as the kubelet would write it.
    await endPodAsKubelet(core, NAMESPACE, kubeSessionName(exits.sessionId), { phase: 'Failed', exitCode: 3, reason: 'Error' });
    // Its node stops answering: NotReady after the controller manager's grace period, then tainted, then the pod evicted.
    await cp.silenceNode(lostNode);
    await until('both ends told', async () => (await monitor.pass(), told.length >= 2 ? true : null), 90_000);
    expect(told.sort()).toEqual([`${exits.sessionId} app_exited 3`, `${lost.sessionId} node_lost`].sort());
    const node = await core.readNode({ name: lostNode });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).not.toBe('True');
    expect(await monitor.pass()).toEqual([]);

    // Teardown removes the pods, the lost node's at once (nothing there would confirm a graceful end).
    for (const s of [lost, exits]) await onLostNode.removeSession(s.sessionId);
    for (const s of [lost, exits]) await until('the pod gone', async () => ((await onLostNode.podState(s.sessionId)) === null ? true : null), 30_000);
    expect((await onLostNode.podState(running.sessionId))?.end).toBeNull();
    await onLostNode.removeSession(running.sessionId);
  });
});

describe("a Kubernetes session's routes", () => {
  it("are Traefik's IngressRoute and IngressRouteTCP to its Service, valid by Traefik's own schema, made once however often added, and removed", async () => {
    const domain = 'hackstream.test';
    const routes = new KubeSessionRoutes(cp.config, { namespace: NAMESPACE, stack: 'kube-routes-test', domain }, { host: '127.0.0.1', port: 1, caPem: async () => '' });
    const custom = cp.config.makeApiClient(CustomObjectsApi);
    const read = (plural: string, sessionId: string) =>
      custom.getNamespacedCustomObject({ group: 'traefik.io', version: 'v1alpha1', namespace: NAMESPACE, plural, name: kubeSessionName(sessionId) }) as Promise<{ metadata: { labels: Record<string, string> }; spec: any }>;
    const sessionId = randomUUID();
    const other = randomUUID();
    // Added again as a retried activity would, and concurrently.
    await Promise.all([routes.add({ sessionId, containerIp: '10.0.0.9' }), routes.add({ sessionId, containerIp: '10.0.0.9' })]);
    await routes.add({ sessionId, containerIp: '10.0.0.9' });
    await routes.add({ sessionId: other, containerIp: '10.0.0.10' });

    const web = await read('ingressroutes', sessionId);
    expect(web.metadata.labels).toMatchObject({ [KUBE_LABELS.session]: sessionId, [KUBE_LABELS.managed]: 'true' });
    expect(web.spec.entryPoints).toEqual(['websecure']);
    expect(web.spec.routes.map((r: { match: string }) => r.match)).toEqual([`Host(\`${sessionWebHost(sessionId, domain)}\`)`, `Host(\`${sessionWebHost(sessionId, domain)}\`) && PathPrefix(\`/hackstream-client/\`)`]);
    for (const route of web.spec.routes) {
      // The origin's headers first, the connect token's check last.
      expect(route.middlewares[0]).toEqual({ name: SESSION_MIDDLEWARES.sessionHeaders });
      expect(route.middlewares.at(-1)).toEqual({ name: SESSION_MIDDLEWARES.connectAuth });
      expect(route.services).toEqual([{ name: kubeSessionName(sessionId), port: XPRA_WS_PORT, serversTransport: KUBE_SESSION_TRANSPORT }]);
    }
    expect(web.spec.routes[1].middlewares).toContainEqual({ name: SESSION_MIDDLEWARES.bundleCache });
    const native = await read('ingressroutetcps', sessionId);
    expect(native.spec).toMatchObject({ entryPoints: ['websecure'], tls: { passthrough: true } });
    expect(native.spec.routes).toEqual([{ match: `HostSNI(\`${sessionTlsName(sessionId, domain)}\`)`, services: [{ name: kubeSessionName(sessionId), port: XPRA_SSL_PORT }] }]);
    const listed = (plural: string) => custom.listNamespacedCustomObject({ group: 'traefik.io', version: 'v1alpha1', namespace: NAMESPACE, plural, labelSelector: `${KUBE_LABELS.session}=${sessionId}` }) as Promise<{ items: unknown[] }>;
    expect((await listed('ingressroutes')).items).toHaveLength(1);
    expect((await listed('ingressroutetcps')).items).toHaveLength(1);
    expect((await routes.list()).map((r) => r.sessionId).sort()).toEqual([sessionId, other].sort());

    await routes.remove(sessionId);
    await routes.remove(sessionId);
    expect((await listed('ingressroutes')).items).toHaveLength(0);
    expect((await listed('ingressroutetcps')).items).toHaveLength(0);
    expect((await routes.list()).map((r) => r.sessionId)).toEqual([other]);
    await routes.remove(other);
  });

  it('are served by a real Traefik reading them from the cluster: the browser host through its middlewares, the native name passed through; gone once removed', async () => {
    const domain = 'hackstream.test';
    const custom = cp.config.makeApiClient(CustomObjectsApi);
    // The API's ForwardAuth check, here one that refuses everyone.
    const refuser = http.createServer((_req, res) => res.writeHead(401).end());
    await new Promise<void>((r) => refuser.listen(0, '127.0.0.1', r));
    const routes = new KubeSessionRoutes(cp.config, { namespace: NAMESPACE, stack: 'kube-ingress-test', domain }, { host: '127.0.0.1', port: 1, caPem: async () => '' });
    // What every session's routes name, made at the worker's start; a second start (another
    // release) brings them up to date in place.
    await routes.ensureShared('http://127.0.0.1:1');
    await routes.ensureShared(`http://127.0.0.1:${(refuser.address() as AddressInfo).port}`);
    const auth = (await custom.getNamespacedCustomObject({ group: 'traefik.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'middlewares', name: SESSION_MIDDLEWARES.connectAuth })) as { spec: any };
    expect(auth.spec.forwardAuth).toMatchObject({ address: `http://127.0.0.1:${(refuser.address() as AddressInfo).port}/internal/connect-auth`, trustForwardHeader: false });
    // Another stack in the same namespace would point these sessions' checks at its own API: refused.
    const intruder = new KubeSessionRoutes(cp.config, { namespace: NAMESPACE, stack: 'another-stack', domain }, { host: '127.0.0.1', port: 1, caPem: async () => '' });
    await expect(intruder.ensureShared('http://127.0.0.1:2')).rejects.toThrow(/belongs to stack kube-ingress-test, not another-stack/);
    const ingress = await startKubeIngress(cp, NAMESPACE);
    try {
      // The session first (its Service is what the routes name), as a session's workflow does.
      const spec = testSessionSpec('hackstream/session-firefox:test');
      const sessionId = spec.sessionId;
      await runtime.ensureSession(spec, files);
      const webHost = sessionWebHost(sessionId, domain);
      const tlsName = sessionTlsName(sessionId, domain);
      expect(await ingress.status(webHost)).toBe(404);
      expect(await ingress.terminatesTls(tlsName)).toBe(true);

      await routes.add({ sessionId, containerIp: '10.0.0.9' });
      // The browser host reaches the ForwardAuth check (a route missing a middleware would not be served at all: 404).
      await until('the browser route served', async () => ((await ingress.status(webHost)) === 401 ? true : null), 30_000).catch((err: Error) => {
        throw new Error(`${err.message}; Traefik's log:\n${ingress.logTail()}`);
      });
      // The native name is passed through (to a pod that does not run here): Traefik presents no
      // certificate of its own, while it still serves the browser route (so it is not just down).
      await until('the native route passed through', async () => (!(await ingress.terminatesTls(tlsName)) && (await ingress.status(webHost)) === 401 ? true : null), 30_000);

      await routes.remove(sessionId);
      await until('the browser route gone', async () => ((await ingress.status(webHost)) === 404 ? true : null), 30_000);
      await until('the native route gone', async () => ((await ingress.terminatesTls(tlsName)) ? true : null), 30_000);
      await runtime.removeSession(sessionId);
    } finally {
      await ingress.stop();
      await new Promise((r) => refuser.close(r));
    }
  });
});
