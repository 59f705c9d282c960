/**
 * A worker configured for a Kubernetes cluster (HACKSTREAM_RUNTIME=kubernetes) runs the same
 * session workflow and activities as on Docker, with sessions as pods: the real API, Temporal,
 * Redis and database, the test control plane (etcd, kube-apiserver, kwok, the controller
 * manager's node lifecycle) and a real Traefik reading the routes from the cluster.
 *
 * kwok plays the pods' status (their readiness included); nothing runs them. What the workflow
 * and the session monitor need of a running pod is played by a real session container on this
 * host's Docker engine, made with the files the worker put in the pod's Secret: its xpra answers
 * TLS with the session's certificate through the ingress's passthrough route (the container as
 * the endpoint of the session's Service, an EndpointSlice), and the commands the worker execs in
 * the pod (xpra info, the app's window) reach it through the API server's exec, which kwok, as
 * the node's kubelet, runs on this host with `docker exec` into that container.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackLabelFilter } from '../../activities/container-labels.js';
import { DockerSessionRuntime } from '../../activities/docker-session-runtime.js';
import { KUBE_FILES_SIDECAR_COMMAND, KUBE_LABELS, kubeProfileClaimName, kubeSessionName, kubeSessionSelector } from '../../activities/kube-session-objects.js';
import { KubeSessionRoutes } from '../../activities/kube-session-routes.js';
import { KubeSessionRuntime } from '../../activities/kube-session-runtime.js';
import { loadWorkerConfig } from '../../core/config.js';
import { FILES, SESSION_FILES_MOUNT } from '../../activities/session-files.js';
import { SubnetPool } from '../../activities/subnet-pool.js';
import { readAppCatalog } from '../../core/app-catalog.js';
import { XPRA_SSL_PORT, XPRA_WS_PORT } from '../../core/ingress-names.js';
import { startApiOn, type ApiUnderTest } from '../support/api-under-test.js';
import { execIn, sessionFilesIn } from '../support/docker.js';
import { endPodAsKubelet, reportResourcesAsKubelet, startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { REPO_ROOT } from '../support/paths.js';
import { startKubeIngress, type KubeIngress } from '../support/kube-ingress.js';
import { reconcileNow } from '../support/reconcile-pass.js';
import { appQuitOf } from '../support/session-history.js';
import { testSessionSpec } from '../support/session-spec.js';
import { startTestStack, type TestStack } from '../support/test-stack.js';
import { until } from '../support/until.js';
import { attachNative } from '../support/xpra-client.js';

const NAMESPACE = 'hackstream-sessions';
/** The quality preset of the stack's pool. */
const WARM_QUALITY = 'low';
/** The containers that play pods here carry this stack's label. */
const PLAYERS = `hs-test-kube-pods-${process.pid}`;

let cp: KubeControlPlane;
let ingress: KubeIngress;
let stack: TestStack;
let t: ApiUnderTest;
let core: CoreV1Api;
let tmp: string;
const docker = new Docker();
const players = new DockerSessionRuntime(docker, new SubnetPool('10.214.5.0/24'), PLAYERS);
/** The node the worker binds its pods to: a kwok of its own, so that it can be silenced. */
const nodeName = `kwok-worker-${randomUUID().slice(0, 8)}`;

/**
 * The commands the worker execs in a pod, as kwok runs them on this host: each runs in the one
 * container that plays a pod at the time (one session at a time here; a warm pod nobody claimed
 * is not played: nothing is exec'd in it), as its session's user. What the pod's files sidecar
 * runs (images/session/session-file.sh, the image's own script) writes into the session files
 * the playing container has mounted where the sidecar's would be, as that container's user.
 */
function writeExecShims(dir: string): void {
  const player = `c=$(docker ps -q --filter label=${stackLabelFilter(PLAYERS)} --filter status=running)
[ "$(echo "$c" | wc -w)" -eq 1 ] || { echo "not one container playing a pod: $c" >&2; exit 125; }`;
  const shims: Record<string, string> = {
    xpra: `exec docker exec -u 1000 "$c" xpra "$@"`,
    'hackstream-app-window': `exec docker exec -u 1000 "$c" hackstream-app-window "$@"`,
    'hackstream-session-file': `dir=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "${SESSION_FILES_MOUNT}"}}{{.Source}}{{end}}{{end}}' "$c")
HACKSTREAM_LIVE_DIR="$dir" sh ${path.join(REPO_ROOT, 'images/session/session-file.sh')} "$@"
chown --reference="$dir" "$dir/$1"`,
  };
  for (const [command, body] of Object.entries(shims)) {
    const file = path.join(dir, command);
    writeFileSync(file, `#!/bin/sh\nset -eu\n${player}\n${body}\n`);
    chmodSync(file, 0o755);
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'hs-kube-worker-'));
  const execDir = path.join(tmp, 'exec');
  mkdirSync(execDir);
  writeExecShims(execDir);
  cp = await startKubeControlPlane({ controllerManager: true, traefikCrds: true });
  await cp.createNamespace(NAMESPACE);
  await cp.addNode(nodeName, { execDir });
  core = cp.config.makeApiClient(CoreV1Api);
  ingress = await startKubeIngress(cp, NAMESPACE);
  stack = await startTestStack({
    HACKSTREAM_RUNTIME: 'kubernetes',
    KUBECONFIG: cp.kubeconfigFile,
    HACKSTREAM_KUBE_NAMESPACE: NAMESPACE,
    HACKSTREAM_KUBE_NODE_NAME: nodeName,
    HACKSTREAM_KUBE_NODE_LOST_AFTER_SECONDS: '1',
    // The reconciler's test leaves sessions without a workflow: removed once a second old.
    HACKSTREAM_RECONCILE_GRACE_SECONDS: '1',
    // The worker asks the cluster's ingress whether a session's routes are served.
    HACKSTREAM_INGRESS_ADDRESS: `127.0.0.1:${ingress.port}`,
    // One warm pod, of a preset no other test here asks for: their sessions start cold.
    HACKSTREAM_POOL: `firefox:${WARM_QUALITY}:1`,
    // Users get other limits than the pool's pods start with: a claim resizes its pod.
    HACKSTREAM_SESSION_MEMORY_MB: '1536',
    HACKSTREAM_ROLE_POLICIES: JSON.stringify({ user: { memoryMb: 1280, cpus: 0.75 } }),
  });
  t = await startApiOn(stack);
}, 300_000);

afterAll(async () => {
  for (const c of await players.listManaged().catch(() => [])) await players.removeSessionContainers(c.sessionId);
  await t?.close();
  await stack?.stop();
  await ingress?.stop();
  await cp?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/**
 * Plays the session's pod: once the worker has made its Secret, a session container with the
 * Secret's certificate, key and token key (a warm pod's Secret has none: it comes with the claim,
 * and the container waits for its URL), named by an EndpointSlice of the session's Service.
 */
async function playPod(sessionId: string, opts: { warm?: boolean } = {}): Promise<{ containerId: string }> {
  const name = kubeSessionName(sessionId);
  const secret = await until('the session pod’s secret', async () => (await core.readNamespacedSecret({ namespace: NAMESPACE, name }).catch(() => null)) ?? null, 60_000);
  const data = (key: string) => Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');
  const files = await sessionFilesIn(path.join(tmp, 'sessions'));
  const dir = await files.write(sessionId, { certPem: data(FILES.cert), keyPem: data(FILES.key), tokenPublicKeyHex: data(FILES.tokenPublicKey) });
  const container = await players.ensureSessionContainer(testSessionSpec(readAppCatalog().firefox!.image, { sessionId }), dir, opts.warm ? 'played-warm-pod' : undefined);
  await cp.config.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
    namespace: NAMESPACE,
    body: {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-played`, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [container.ip], conditions: { ready: true } }],
      ports: [
        { name: 'xpra-ssl', port: XPRA_SSL_PORT, protocol: 'TCP' },
        { name: 'xpra-ws', port: XPRA_WS_PORT, protocol: 'TCP' },
      ],
    },
  });
  return { containerId: container.id };
}

/** Creates a session through the API while its pod is played here; returns its id once ready. */
async function readySession(token: string, body: Record<string, unknown> = {}): Promise<string> {
  const created = t.call('POST', '/v1/sessions', { token, body: { app: 'firefox', ...body } });
  // Not the pool's: its warm pod is nobody's session until a claim.
  const pod = await until('a session pod', async () => (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `${KUBE_LABELS.session},!${KUBE_LABELS.warm}` })).items.find((p) => !played.has(p.metadata?.labels?.[KUBE_LABELS.session] ?? '')), 60_000);
  const sessionId = pod.metadata!.labels![KUBE_LABELS.session]!;
  played.add(sessionId);
  await playPod(sessionId);
  const answer = await created;
  expect([201, 202], JSON.stringify(answer.body)).toContain(answer.status);
  expect(answer.body.session_id).toBe(sessionId);
  await t.untilSessionState(token, sessionId, 'ready', 120_000);
  return sessionId;
}
const played = new Set<string>();

/** A session file as the container playing its pod sees it, or null when it has none. */
async function readPlayed(containerId: string, name: string): Promise<string | null> {
  const { exitCode, output } = await execIn(containerId, ['cat', `${SESSION_FILES_MOUNT}/${name}`]);
  return exitCode === 0 ? output : null;
}

/** What the cluster holds of a session, by kind. */
async function objectsOf(sessionId: string): Promise<Record<string, number>> {
  const labelSelector = kubeSessionSelector(sessionId);
  const custom = cp.config.makeApiClient(CustomObjectsApi);
  const routes = (plural: string) =>
    custom.listNamespacedCustomObject({ group: 'traefik.io', version: 'v1alpha1', namespace: NAMESPACE, plural, labelSelector }).then((r) => (r as { items: unknown[] }).items.length);
  return {
    pods: (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector })).items.filter((p) => !p.metadata?.deletionTimestamp).length,
    services: (await core.listNamespacedService({ namespace: NAMESPACE, labelSelector })).items.length,
    secrets: (await core.listNamespacedSecret({ namespace: NAMESPACE, labelSelector })).items.length,
    networkPolicies: (await cp.config.makeApiClient(NetworkingV1Api).listNamespacedNetworkPolicy({ namespace: NAMESPACE, labelSelector })).items.length,
    ingressRoutes: await routes('ingressroutes'),
    ingressRouteTcps: await routes('ingressroutetcps'),
  };
}

describe('a worker with HACKSTREAM_RUNTIME=kubernetes', () => {
  it('runs a session from the API as a pod with its objects and routes, ready through the ingress, and removes all of them at its stop', async () => {
    const user = await t.newUser();
    const sessionId = await readySession(user.token);
    expect(await objectsOf(sessionId)).toEqual({ pods: 1, services: 1, secrets: 1, networkPolicies: 1, ingressRoutes: 1, ingressRouteTcps: 1 });
    const pod = await core.readNamespacedPod({ namespace: NAMESPACE, name: kubeSessionName(sessionId) });
    expect(pod.spec?.nodeName).toBe(nodeName);
    expect(pod.metadata?.labels?.[KUBE_LABELS.user]).toBe(user.id);
    // Ready means the app's window is up: the pod's probe waits for it as the Docker start does.
    expect(pod.spec?.containers[0]?.startupProbe?.exec?.command?.[0]).toBe('hackstream-app-window');
    // The browser route reaches the API's connect check through the cluster's ingress.
    expect(await ingress.status(new URL(t.sessionOrigin(sessionId)).hostname)).toBe(401);

    // The native client through the cluster's ingress (SNI passthrough to the pod), with a one-time token.
    const { native } = (await t.call('POST', `/v1/sessions/${sessionId}/connect`, { token: user.token })).body.connect;
    const client = attachNative(native, { port: ingress.port, caFile: stack.caFile });
    try {
      expect(await client.attached(60_000), client.output()).toBe(true);
      // The session monitor read the attach from the pod's xpra (by exec): the session is active.
      await t.untilSessionState(user.token, sessionId, 'active', 60_000);
    } finally {
      await client.stop();
    }

    await t.stopAndWait(user.token, sessionId);
    await until('every object of the session gone', async () => (Object.values(await objectsOf(sessionId)).every((n) => n === 0) ? true : null), 60_000);
    await players.removeSessionContainers(sessionId);
  }, 300_000);

  it("gives a persistent session its profile's claim, sized by the quota, one session at a time; the app is asked to quit (by exec) before its pod goes, and the claim stays", async () => {
    const admin = await t.newUser('admin');
    const user = await t.newUser();
    const quota = await t.call('PATCH', `/v1/users/${user.id}`, { token: admin.token, body: { quota: { storage_mb: 64 } } });
    expect(quota.status, JSON.stringify(quota.body)).toBe(200);
    const sessionId = await readySession(user.token, { profile: 'persist' });
    const pod = await core.readNamespacedPod({ namespace: NAMESPACE, name: kubeSessionName(sessionId) });
    const claimName = pod.spec?.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;
    expect(claimName).toBe(kubeProfileClaimName(user.id, 'firefox'));
    const claim = await core.readNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, name: claimName! });
    expect(claim.spec?.accessModes).toEqual(['ReadWriteOncePod']);
    expect(claim.spec?.resources?.requests?.['storage']).toBe('64Mi');
    // The profile has one writer: a second persistent session of the same app is refused.
    const second = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox', profile: 'persist' } });
    expect(second.status, JSON.stringify(second.body)).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'profile_in_use', session_id: sessionId });

    // What the pod's startup probe would have waited for (kwok does not run probes): the app's window.
    const player = (await players.listManaged()).find((c) => c.sessionId === sessionId)!;
    await until('the app’s window in the played pod', async () => ((await players.appWindow(player.id, readAppCatalog().firefox!.windowClass, 2)) === 'shown' ? true : null), 60_000);

    // The kubelet's part, which kwok does not play: once the pod's app has ended (the container
    // playing it, which nothing here stops but its app's quit), the pod's status says so.
    const kubelet = until('the app quit in the played pod', async () => ((await players.inspect(player.id))?.running === false ? true : null), 60_000).then(async () => {
      await endPodAsKubelet(core, NAMESPACE, kubeSessionName(sessionId), { phase: 'Succeeded', exitCode: 0, reason: 'Completed' });
    });
    await t.stopAndWait(user.token, sessionId);
    await kubelet;
    // Its app closed its window when asked, in the pod, and the removal waited for it to end.
    expect(await appQuitOf(t.temporal, sessionId)).toMatchObject({ quit: true });
    await until('every object of the session gone', async () => (Object.values(await objectsOf(sessionId)).every((n) => n === 0) ? true : null), 60_000);
    expect((await core.readNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, name: claimName! })).metadata?.deletionTimestamp).toBeUndefined();
    await players.removeSessionContainers(sessionId);
  }, 300_000);

  it("leaves nothing of sessions without a workflow: the reconciler removes a pod's objects and routes, and what a teardown cut short left", async () => {
    const taskQueue = stack.env['HACKSTREAM_TASK_QUEUE']!;
    // Made as the worker makes them (its stack is its task queue), on the cluster's other node.
    const kube = new KubeSessionRuntime(cp.config, { namespace: NAMESPACE, stack: taskQueue, ingress: { namespace: 'traefik', podLabels: { 'app.kubernetes.io/name': 'traefik' } }, nodeName: cp.nodeName });
    const routes = new KubeSessionRoutes(cp.config, { namespace: NAMESPACE, stack: taskQueue, domain: loadWorkerConfig(stack.env).ingress.domain }, { host: '127.0.0.1', port: 1, caPem: async () => '' });
    const image = readAppCatalog().firefox!.image;
    const orphan = testSessionSpec(image);
    const cutShort = testSessionSpec(image);
    for (const spec of [orphan, cutShort]) {
      await kube.ensureSession(spec, { [FILES.cert]: 'CERT', [FILES.key]: 'KEY' });
      await routes.add({ sessionId: spec.sessionId, containerIp: '' });
    }
    // A teardown cut short after the pod: its Service, Secret, NetworkPolicy and routes are left.
    await core.deleteNamespacedPod({ namespace: NAMESPACE, name: kubeSessionName(cutShort.sessionId), gracePeriodSeconds: 0 });
    await until('the cut-short session’s pod gone', async () => ((await kube.podState(cutShort.sessionId)) === null ? true : null), 30_000);
    expect(await objectsOf(orphan.sessionId)).toEqual({ pods: 1, services: 1, secrets: 1, networkPolicies: 1, ingressRoutes: 1, ingressRouteTcps: 1 });
    expect(await objectsOf(cutShort.sessionId)).toMatchObject({ pods: 0, ingressRoutes: 1 });
    // Older than the grace the stack was given (a create in flight has a workflow within it).
    await new Promise((r) => setTimeout(r, 1500));

    const report = await reconcileNow(t.temporal, taskQueue);
    expect(report.reconciled).toBeGreaterThanOrEqual(2);
    for (const spec of [orphan, cutShort]) {
      await until('every object of the session gone', async () => (Object.values(await objectsOf(spec.sessionId)).every((n) => n === 0) ? true : null), 30_000);
    }
  }, 180_000);

  it("gives pods a files sidecar whose command, in the session image, ends at the cluster's SIGTERM instead of waiting for the grace period's kill", async () => {
    const container = await docker.createContainer({
      Image: readAppCatalog().firefox!.image,
      Entrypoint: KUBE_FILES_SIDECAR_COMMAND,
      User: '1001:1000',
      HostConfig: { ReadonlyRootfs: true, NetworkMode: 'none', AutoRemove: false },
    });
    try {
      await container.start();
      // As a kubelet ends a native sidecar once its pod's app has ended: SIGTERM, then SIGKILL after the grace.
      await container.stop({ t: 30 });
      const { State } = await container.inspect();
      // 0: it ended at the SIGTERM; a kill after the grace would be 137.
      expect(State.ExitCode).toBe(0);
    } finally {
      await container.remove({ force: true });
    }
  });

  it("keeps a warm pod that a session claims: its token key, URL and later its token bound written by the pod's files sidecar, its user's limits by resize", async () => {
    const warmPods = async () => (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `${KUBE_LABELS.warm}=true` })).items.filter((p) => !p.metadata?.deletionTimestamp);
    const [warm] = await until('the pool’s warm pod', async () => ((await warmPods()).length === 1 ? warmPods() : null), 120_000);
    const sessionId = warm!.metadata!.labels![KUBE_LABELS.session]!;
    played.add(sessionId);
    const player = await playPod(sessionId, { warm: true });
    // Ready in the pool's list, which the API claims from.
    await until('the pool ready', async () => ((await (await fetch(`${t.api.url}/metrics`)).text()).includes(`hackstream_pool_ready{pool="firefox-${WARM_QUALITY}"} 1`) ? true : null), 60_000);
    await reportResourcesAsKubelet(core, NAMESPACE, kubeSessionName(sessionId));
    // Until a claim, its token check admits nobody: there is no key.
    expect(await readPlayed(player.containerId, FILES.tokenPublicKey)).toBeNull();

    const user = await t.newUser();
    const url = 'https://example.com/claimed';
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox', quality: WARM_QUALITY, url } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ session_id: sessionId, start: 'warm' });
    // The claim wrote the URL where the pod's url watch waits for it, through the exec's input.
    expect(await readPlayed(player.containerId, FILES.openUrl)).toBe(`${url}\n`);
    // The user's limits, in place: the same pod, resized.
    const pod = await core.readNamespacedPod({ namespace: NAMESPACE, name: kubeSessionName(sessionId) });
    expect(pod.metadata?.uid).toBe(warm!.metadata?.uid);
    expect(pod.spec?.containers[0]?.resources?.limits).toEqual({ cpu: '750m', memory: '1280Mi' });

    // The session's token key arrived: its owner's native client gets in through the ingress.
    const connect = async () => (await t.call('POST', `/v1/sessions/${sessionId}/connect`, { token: user.token })).body.connect.native;
    const attach = (native: { sni: string; username: string; password: string }) => attachNative(native, { port: ingress.port, caFile: stack.caFile });
    const issuedBefore = await connect();
    const first = attach(await connect());
    try {
      expect(await first.attached(60_000), first.output()).toBe(true);
    } finally {
      await first.stop();
    }

    // An account change: the pod refuses the tokens issued before it, by the bound the worker
    // wrote in its files (a pod's Secret cannot take it).
    const admin = await t.newUser('admin');
    const changed = await t.call('PATCH', `/v1/users/${user.id}`, { token: admin.token, body: { role: 'admin' } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    await until('the token bound in the pod', async () => ((await readPlayed(player.containerId, FILES.tokensRefusedUntil))?.trim() ? true : null), 60_000);
    const refused = attach(issuedBefore);
    try {
      expect(await refused.attached(20_000), refused.output()).toBe(false);
    } finally {
      await refused.stop();
    }
    const log = (await docker.getContainer(player.containerId).logs({ stdout: true, stderr: true, follow: false })).toString('latin1');
    expect(log).toContain(`hackstream auth: token ${issuedBefore.username} was revoked by an account change`);

    await t.stopAndWait(admin.token, sessionId);
    await until('every object of the session gone', async () => (Object.values(await objectsOf(sessionId)).every((n) => n === 0) ? true : null), 60_000);
    await players.removeSessionContainers(sessionId);
  }, 300_000);

  it('ends a session whose node stops answering with node_lost, and removes its routes', async () => {
    const user = await t.newUser();
    const sessionId = await readySession(user.token);
    await cp.silenceNode(nodeName);
    const ended = await until(
      'the session ended',
      async () => {
        const s = (await t.call('GET', `/v1/sessions/${sessionId}`, { token: user.token })).body;
        return s.state === 'stopped' || s.state === 'failed' ? s : null;
      },
      120_000,
    );
    expect(ended).toMatchObject({ state: 'failed', reason: 'node_lost' });
    const left = await objectsOf(sessionId);
    expect({ ingressRoutes: left.ingressRoutes, ingressRouteTcps: left.ingressRouteTcps }).toEqual({ ingressRoutes: 0, ingressRouteTcps: 0 });
    await players.removeSessionContainers(sessionId);
  }, 300_000);
});
