/**
 * The worker's whole session path on a real Kubernetes node: the real API, Temporal, Redis and
 * database, a worker with HACKSTREAM_RUNTIME=kubernetes, the test control plane with a kubelet's
 * node (test/support/kube-node.ts: containerd, runc, the CNI bridge plugin) and a real Traefik reading the routes from the cluster. Nothing is played
 * here (test/integration/kube-worker.test.ts has kwok play the node and a session container on
 * this host play the pod): the pod runs the session image, its readiness is its startup probe's,
 * Traefik reaches its xpra through its Service's endpoints (the controller manager's EndpointSlice
 * controller), and the session monitor reads the attach from its xpra by exec through the kubelet.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeSessionName, kubeSessionSelector } from '../../activities/kube-session-objects.js';
import { readAppCatalog } from '../../core/app-catalog.js';
import { startApiOn, type ApiUnderTest } from '../support/api-under-test.js';
import { startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { startKubeIngress, type KubeIngress } from '../support/kube-ingress.js';
import { startKubeNode, type KubeNode } from '../support/kube-node.js';
import { startTestStack, type TestStack } from '../support/test-stack.js';
import { until } from '../support/until.js';
import { attachNative } from '../support/xpra-client.js';

const NAMESPACE = 'hackstream-sessions';
const FIREFOX = readAppCatalog().firefox!;

let cp: KubeControlPlane;
let node: KubeNode;
let ingress: KubeIngress;
let stack: TestStack;
let t: ApiUnderTest;
let core: CoreV1Api;

beforeAll(async () => {
  cp = await startKubeControlPlane({ controllerManager: true, endpointSlices: true, traefikCrds: true });
  await cp.createNamespace(NAMESPACE);
  // Its NetworkPolicies are enforced in kube-node.test.ts: kube-router's rules are the host's, one node's at a time.
  node = await startKubeNode(cp, { name: `kubelet-${process.pid}`, slot: 1, images: [FIREFOX.image] });
  core = cp.config.makeApiClient(CoreV1Api);
  ingress = await startKubeIngress(cp, NAMESPACE);
  stack = await startTestStack({
    HACKSTREAM_RUNTIME: 'kubernetes',
    KUBECONFIG: cp.kubeconfigFile,
    HACKSTREAM_KUBE_NAMESPACE: NAMESPACE,
    HACKSTREAM_KUBE_NODE_NAME: node.name,
    // The node's containerd (Debian's 1.6) has no user namespaces for pods.
    HACKSTREAM_KUBE_USER_NAMESPACES: 'off',
    HACKSTREAM_INGRESS_ADDRESS: `127.0.0.1:${ingress.port}`,
  });
  t = await startApiOn(stack);
}, 420_000);

afterAll(async () => {
  await t?.close();
  await stack?.stop();
  await ingress?.stop();
  await node?.stop();
  await cp?.stop();
}, 180_000);

describe('a worker with HACKSTREAM_RUNTIME=kubernetes on a real node', () => {
  it('runs a session from the API as a pod on the node, ready through the ingress; a native client attaches through it; its stop leaves no object and no container', async () => {
    const user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect([201, 202], JSON.stringify(created.body)).toContain(created.status);
    const sessionId = String(created.body.session_id);
    await t.untilSessionState(user.token, sessionId, 'ready', 180_000);
    const pod = await core.readNamespacedPod({ namespace: NAMESPACE, name: kubeSessionName(sessionId) });
    expect(pod.spec?.nodeName).toBe(node.name);
    expect(pod.status?.phase).toBe('Running');
    expect(pod.status?.podIP?.startsWith(node.podSubnet.replace(/0\/24$/, ''))).toBe(true);

    // The native client through the cluster's ingress (SNI passthrough to the pod's xpra), with a one-time token.
    const { native } = (await t.call('POST', `/v1/sessions/${sessionId}/connect`, { token: user.token })).body.connect;
    const client = attachNative(native, { port: ingress.port, caFile: stack.caFile });
    try {
      expect(await client.attached(60_000), client.output()).toBe(true);
      // The session monitor read the attach from the pod's xpra (by exec through the kubelet).
      await t.untilSessionState(user.token, sessionId, 'active', 60_000);
    } finally {
      await client.stop();
    }

    await t.stopAndWait(user.token, sessionId);
    // The session ends once its pod is deleted; the kubelet then stops its containers within the pod's grace period.
    await until('the pod gone', async () => ((await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: kubeSessionSelector(sessionId) })).items.length === 0 ? true : null), 60_000, 500);
    await until('no container of the session on the node', async () => ((await node.containers()).length === 0 ? true : null), 60_000, 500);
  }, 420_000);
});
