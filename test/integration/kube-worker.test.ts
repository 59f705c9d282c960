/**
 * A worker configured for a Kubernetes cluster (HACKSTREAM_RUNTIME=kubernetes) runs the same
 * session workflow and activities as on Docker, with sessions as pods: the real API, Temporal,
 * Redis and database, the test control plane (etcd, kube-apiserver, kwok, the controller
 * manager's node lifecycle) and a real Traefik reading the routes from the cluster.
 *
 * What stops at the API here: kwok plays the pods (their status, readiness included), nothing
 * runs them. The one thing the workflow needs from a running pod, its xpra answering TLS with the
 * session's certificate through the ingress's passthrough route, is played by a TLS listener on
 * this host with the certificate and key the worker put in the pod's Secret, as the pod's
 * endpoint (an EndpointSlice of the session's Service).
 */
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KUBE_LABELS, kubeSessionName, kubeSessionSelector } from '../../activities/kube-session-objects.js';
import { FILES } from '../../activities/session-files.js';
import { startApiOn, type ApiUnderTest } from '../support/api-under-test.js';
import { startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { startKubeIngress, type KubeIngress } from '../support/kube-ingress.js';
import { startTestStack, type TestStack } from '../support/test-stack.js';
import { until } from '../support/until.js';

const NAMESPACE = 'hackstream-sessions';

let cp: KubeControlPlane;
let ingress: KubeIngress;
let stack: TestStack;
let t: ApiUnderTest;
let core: CoreV1Api;
const standIns: tls.Server[] = [];
/** The node the worker binds its pods to: a kwok of its own, so that it can be silenced. */
const nodeName = `kwok-worker-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  cp = await startKubeControlPlane({ controllerManager: true, traefikCrds: true });
  await cp.createNamespace(NAMESPACE);
  await cp.addNode(nodeName);
  core = cp.config.makeApiClient(CoreV1Api);
  ingress = await startKubeIngress(cp, NAMESPACE);
  stack = await startTestStack({
    HACKSTREAM_RUNTIME: 'kubernetes',
    KUBECONFIG: cp.kubeconfigFile,
    HACKSTREAM_KUBE_NAMESPACE: NAMESPACE,
    HACKSTREAM_KUBE_NODE_NAME: nodeName,
    HACKSTREAM_KUBE_NODE_LOST_AFTER_SECONDS: '1',
    // The worker asks the cluster's ingress whether a session's routes are served.
    HACKSTREAM_INGRESS_ADDRESS: `127.0.0.1:${ingress.port}`,
  });
  t = await startApiOn(stack);
}, 300_000);

afterAll(async () => {
  for (const s of standIns) s.close();
  await t?.close();
  await stack?.stop();
  await ingress?.stop();
  await cp?.stop();
});

/** An address of this host that an EndpointSlice may name (not loopback). */
function hostAddress(): string {
  const found = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  if (!found) throw new Error('this host has no non-loopback IPv4 address for the stand-in endpoint');
  return found.address;
}

/**
 * Plays the session pod's xpra TLS listener: once the worker has made the pod's Secret, a TLS
 * server here with its certificate and key, named by an EndpointSlice of the session's Service.
 */
async function standInForPod(sessionId: string): Promise<void> {
  const name = kubeSessionName(sessionId);
  const secret = await until('the session pod’s secret', async () => (await core.readNamespacedSecret({ namespace: NAMESPACE, name }).catch(() => null)) ?? null, 60_000);
  const data = (key: string) => Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');
  const server = tls.createServer({ cert: data(FILES.cert), key: data(FILES.key) }, (socket) => socket.end());
  standIns.push(server);
  const address = hostAddress();
  server.listen(0, address);
  await once(server, 'listening');
  await cp.config.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
    namespace: NAMESPACE,
    body: {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-stand-in`, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [address], conditions: { ready: true } }],
      ports: [{ name: 'xpra-ssl', port: (server.address() as AddressInfo).port, protocol: 'TCP' }],
    },
  });
}

/** Creates a session through the API while its pod is played here; returns its id once ready. */
async function readySession(token: string): Promise<string> {
  const created = t.call('POST', '/v1/sessions', { token, body: { app: 'firefox' } });
  const pod = await until('a session pod', async () => (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: KUBE_LABELS.session })).items.find((p) => !standInSessions.has(p.metadata?.labels?.[KUBE_LABELS.session] ?? '')), 60_000);
  const sessionId = pod.metadata!.labels![KUBE_LABELS.session]!;
  standInSessions.add(sessionId);
  await standInForPod(sessionId);
  const answer = await created;
  expect([201, 202], JSON.stringify(answer.body)).toContain(answer.status);
  expect(answer.body.session_id).toBe(sessionId);
  await until('the session ready', async () => ((await t.call('GET', `/v1/sessions/${sessionId}`, { token })).body.state === 'ready' ? true : null), 90_000);
  return sessionId;
}
const standInSessions = new Set<string>();

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
    expect(pod.spec?.containers[0]?.readinessProbe?.exec?.command?.[0]).toBe('hackstream-app-window');
    // The browser route reaches the API's connect check through the cluster's ingress.
    expect(await ingress.status(new URL(t.sessionOrigin(sessionId)).hostname)).toBe(401);

    await t.stopAndWait(user.token, sessionId);
    await until('every object of the session gone', async () => (Object.values(await objectsOf(sessionId)).every((n) => n === 0) ? true : null), 60_000);
  }, 240_000);

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
  }, 240_000);
});
