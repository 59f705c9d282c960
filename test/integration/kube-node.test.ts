/**
 * Session pods really running: the Kubernetes runtime against the test control plane with a real
 * node (test/support/kube-node.ts: the kubelet, containerd, runc and the CNI bridge plugin on this
 * host), where the other Kubernetes tests have kwok play the pods. What only a real node shows:
 * the pod starts from the session image and is ready when its app's window is up (its startup
 * probe, run by the kubelet); the hardening the API server stores is what the kernel enforces;
 * xpra answers TLS with the session's certificate on the pod's address; the files sidecar writes
 * what the session's container may only read, through the kubelet's exec; a resize reaches the
 * container's cgroup; the pod ends with its app, its sidecar at SIGTERM; nothing stays behind;
 * its NetworkPolicy, enforced by kube-router's firewall, admits only the ingress controller's
 * pods and lets the session out only where its role's openings say; and a persistent profile's
 * claim, bound to a volume of the node, keeps what the app wrote for the user's next pod.
 *
 * Not shown here: user namespaces (Debian's containerd 1.6 has none for pods: these run with
 * `userNamespaces: false`, HACKSTREAM_KUBE_USER_NAMESPACES=off).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KUBE_FILES_CONTAINER, KUBE_FILES_SIDECAR_COMMAND, KUBE_SESSION_CONTAINER, LIVE_FILES_MOUNT, kubeProfileClaimName, kubeSessionName } from '../../activities/kube-session-objects.js';
import { PodExec } from '../../activities/kube-pod-exec.js';
import { KubeContainerRuntime } from '../../activities/kube-container-runtime.js';
import { KubeLiveFiles } from '../../activities/kube-live-files.js';
import { KubeSessionRuntime, type KubePodState } from '../../activities/kube-session-runtime.js';
import type { SessionSpec } from '../../workflows/messages.js';
import { FILES, SESSION_UID } from '../../activities/session-files.js';
import { readAppCatalog } from '../../core/app-catalog.js';
import { XPRA_SSL_PORT } from '../../core/ingress-names.js';
import { startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { startKubeNode, type KubeNode } from '../support/kube-node.js';
import { testSessionSpec } from '../support/session-spec.js';
import { until } from '../support/until.js';

const NAMESPACE = 'hackstream-sessions';
/** The ingress controller's pods, as the runtime's placement names them. */
const INGRESS = { namespace: 'traefik', podLabels: { 'app.kubernetes.io/name': 'traefik' } };
const FIREFOX = readAppCatalog().firefox!;

let cp: KubeControlPlane;
let node: KubeNode;
let core: CoreV1Api;
let runtime: KubeSessionRuntime;
let tmp: string;
let files: Record<string, string>;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'hs-kube-node-test-'));
  const [key, cert] = [path.join(tmp, 'key.pem'), path.join(tmp, 'cert.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=session', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  files = { [FILES.cert]: readFileSync(cert, 'utf8'), [FILES.key]: readFileSync(key, 'utf8'), [FILES.tokenPublicKey]: 'ab'.repeat(32) };
  cp = await startKubeControlPlane({ controllerManager: true, volumeBinding: true });
  await cp.createNamespace(NAMESPACE);
  await cp.createNamespace(INGRESS.namespace);
  node = await startKubeNode(cp, { name: 'real-node', slot: 0, images: [FIREFOX.image], networkPolicies: true });
  core = cp.config.makeApiClient(CoreV1Api);
  runtime = new KubeSessionRuntime(cp.config, {
    namespace: NAMESPACE,
    stack: 'kube-node-test',
    ingress: INGRESS,
    nodeName: node.name,
    userNamespaces: false,
  });
}, 300_000);

afterAll(async () => {
  await node?.stop();
  await cp?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 120_000);

/** Creates the session's pod and waits until it is ready (or ended: the assertion then shows how). */
async function startReady(on: KubeSessionRuntime, spec: SessionSpec): Promise<KubePodState> {
  await on.ensureSession(spec, files);
  const { state } = await on.waitForPod(spec.sessionId, (s) => s?.ready === true || (s?.end ?? null) !== null, 120_000);
  expect(state?.ready, JSON.stringify(state)).toBe(true);
  return state!;
}

/** Runs a shell command in the session's container through the API server and the kubelet. */
async function inSession(sessionId: string, script: string): Promise<{ exitCode: number; stdout: string }> {
  const { exitCode, stdout } = await runtime.exec(sessionId, ['sh', '-c', script], 15_000);
  return { exitCode, stdout };
}

/** The certificate a TLS server at host:port presents (no verification: the test compares it). */
function peerCertificate(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, servername: 'session' }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
      socket.end();
    });
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no TLS answer from ${host}:${port}`)));
  });
}

describe('a session pod on a real node', () => {
  const spec = testSessionSpec(FIREFOX.image, { url: 'about:blank' });

  it('runs the session image, ready once its app has a window; the kernel enforces the hardening; xpra answers TLS on the pod’s address with the session’s certificate', async () => {
    const state = await startReady(runtime, spec);
    expect(state.nodeName).toBe(node.name);
    expect(state.ip?.startsWith(node.podSubnet.replace(/0\/24$/, ''))).toBe(true);
    // A retried start makes nothing twice: the same pod, still ready.
    const again = await runtime.ensureSession(spec, files);
    expect(again.name).toBe(kubeSessionName(spec.sessionId));
    expect((await core.listNamespacedPod({ namespace: NAMESPACE })).items).toHaveLength(1);

    const status = await inSession(spec.sessionId, 'id -u; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/1/status; touch /written 2>&1; echo "root $?"');
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain(`${SESSION_UID}\n`);
    expect(status.stdout).toMatch(/CapEff:\s+0000000000000000/);
    expect(status.stdout).toMatch(/NoNewPrivs:\s+1/);
    expect(status.stdout).toMatch(/Seccomp:\s+2/); // a filter: the runtime's default profile
    expect(status.stdout).toMatch(/Read-only file system\nroot 1/);

    const presented = await until('xpra’s TLS on the pod', () => peerCertificate(state.ip!, XPRA_SSL_PORT).catch(() => null), 30_000, 500);
    expect(presented).toBe(new X509Certificate(files[FILES.cert]!).fingerprint256);
  });

  it('gets the files only its sidecar may write through the kubelet’s exec: an account change’s token bound reaches the session’s container, read-only there', async () => {
    const issuedUntil = Date.now();
    expect(await new KubeLiveFiles(runtime).refuseNativeTokens(spec.sessionId, issuedUntil)).toBe(true);
    const seen = await inSession(spec.sessionId, `cat ${LIVE_FILES_MOUNT}/${FILES.tokensRefusedUntil}; stat -c '%u %a' ${LIVE_FILES_MOUNT}/${FILES.tokensRefusedUntil}; touch ${LIVE_FILES_MOUNT}/x 2>&1; echo "live $?"`);
    expect(seen.stdout).toContain(String(issuedUntil));
    // The sidecar's user wrote it (neither root nor the session's user), readable by the session's group.
    expect(seen.stdout).toMatch(new RegExp(`\\n${SESSION_UID + 1} 640\\n`));
    expect(seen.stdout).toMatch(/Read-only file system\nlive 1/);
  });

  it('is resized in place: new limits reach the container’s cgroup', async () => {
    await runtime.resize(spec.sessionId, { ...spec.resources, memoryMb: 1536, cpus: 1 });
    const v2 = (await inSession(spec.sessionId, 'test -f /sys/fs/cgroup/memory.max && echo v2 || echo v1')).stdout.trim() === 'v2';
    const read = v2 ? 'cat /sys/fs/cgroup/memory.max; cut -d" " -f1 /sys/fs/cgroup/cpu.max' : 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us';
    const limits = await until(
      'the new limits in the container’s cgroup',
      async () => {
        const [memory, cpuQuota] = (await inSession(spec.sessionId, read)).stdout.trim().split('\n');
        return memory === String(1536 * 1024 * 1024) ? { memory, cpuQuota } : null;
      },
      60_000,
      1000,
    );
    expect(limits.cpuQuota).toBe('100000'); // one CPU of the default 100 ms period
  });

  it('ends with its app: asked to quit, the app closes its window and the pod ends, its files sidecar at SIGTERM; removal leaves no object and no container', async () => {
    expect(await new KubeContainerRuntime(runtime).quitApp(spec.sessionId, 60)).toBe(true);
    const pod = await core.readNamespacedPod({ namespace: NAMESPACE, name: kubeSessionName(spec.sessionId) });
    const ended = (name: string) => [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].find((c) => c.name === name)?.state?.terminated;
    const exitCode = ended(KUBE_SESSION_CONTAINER)?.exitCode;
    expect(exitCode).toBeDefined();
    if (exitCode !== 0) {
      // xpra's own exit, after its app's, was 1 once in a loaded CI run (cause not known: its log
      // then says). What this shows is that the pod ended because the app quit, as xpra says when
      // its only child has ended.
      const log = await runtime.logsTail(spec.sessionId, 40);
      expect(log, `the session container's exit ${exitCode}; its log:\n${log}`).toContain('all children have exited and --exit-with-children was specified, exiting');
    }
    // 0 is its shell's answer to SIGTERM; a sidecar that ignored it would have been killed (137) after the grace period.
    await until('the files sidecar ended', async () => {
      const p = await core.readNamespacedPod({ namespace: NAMESPACE, name: kubeSessionName(spec.sessionId) });
      return p.status?.initContainerStatuses?.find((c) => c.name === KUBE_FILES_CONTAINER)?.state?.terminated ?? null;
    }, 60_000).then((terminated) => expect(terminated.exitCode).toBe(0));
    expect(ended(KUBE_SESSION_CONTAINER)).toBeDefined();

    await runtime.removeSession(spec.sessionId);
    expect(await runtime.podState(spec.sessionId)).toBeNull();
    expect((await runtime.inventory()).has(spec.sessionId)).toBe(false);
    await until('no container of the session on the node', async () => ((await node.containers()).length === 0 ? true : null), 60_000, 500);
  });
});

/** A pod of the session image running `command` on the node (the image is there; no other is). */
async function startHelperPod(namespace: string, name: string, labels: Record<string, string>, command: string[]): Promise<string> {
  const body: V1Pod = {
    metadata: { name, namespace, labels },
    spec: {
      nodeName: node.name,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      securityContext: { runAsUser: SESSION_UID, runAsGroup: SESSION_UID, runAsNonRoot: true },
      containers: [{ name: 'main', image: FIREFOX.image, imagePullPolicy: 'IfNotPresent', command }],
    },
  };
  await core.createNamespacedPod({ namespace, body });
  const pod = await until(`the pod ${namespace}/${name} running`, async () => {
    const p = await core.readNamespacedPod({ namespace, name });
    return p.status?.phase === 'Running' && p.status.podIP ? p : null;
  }, 120_000, 500);
  return pod.status!.podIP!;
}

/** Whether a TCP connection from a container to host:port opens within 3 s. */
async function connects(from: (command: string[]) => Promise<{ exitCode: number }>, host: string, port: number): Promise<boolean> {
  const probe = 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)';
  return (await from(['python3', '-c', probe, host, String(port)])).exitCode === 0;
}

/** Waits until a connection from the container to host:port opens (every `intervalMs`, up to `timeoutMs`). */
function untilConnects(what: string, from: (command: string[]) => Promise<{ exitCode: number }>, host: string, port: number, timeoutMs: number, intervalMs: number): Promise<true> {
  return until(what, () => connects(from, host, port).then((open) => open || null), timeoutMs, intervalMs);
}

describe("a session pod's NetworkPolicy on a real node", () => {
  const spec = testSessionSpec(FIREFOX.image, { url: 'about:blank' });
  let sessionIp: string;
  let listenerIp: string;
  const LISTENER_PORT = 8080;
  const fromPod = (namespace: string, name: string) => (command: string[]) => new PodExec(cp.config).run(namespace, name, 'main', command, 15_000);
  const fromSession = (command: string[]) => runtime.exec(spec.sessionId, command, 15_000);

  beforeAll(async () => {
    sessionIp = (await startReady(runtime, spec)).ip!;
    // The ingress controller's pod, a pod of the same namespace that is not it, and a listener on a private address.
    await startHelperPod(INGRESS.namespace, 'ingress', INGRESS.podLabels, KUBE_FILES_SIDECAR_COMMAND);
    await startHelperPod(NAMESPACE, 'neighbour', { role: 'neighbour' }, KUBE_FILES_SIDECAR_COMMAND);
    listenerIp = await startHelperPod(NAMESPACE, 'listener', { role: 'listener' }, ['python3', '-m', 'http.server', String(LISTENER_PORT)]);
    await untilConnects('the listener listening', fromPod(INGRESS.namespace, 'ingress'), listenerIp, LISTENER_PORT, 30_000, 500);
  }, 300_000);

  afterAll(async () => {
    await runtime?.removeSession(spec.sessionId);
  }, 120_000);

  it("admits into the session only the ingress controller's pods, on xpra's ports", async () => {
    // kube-router adds a new pod's address to the policy's sets when it sees the pod, a moment
    // after the pod runs: what a policy admits is eventually admitted, and stays so.
    await untilConnects('the ingress pod admitted into the session', fromPod(INGRESS.namespace, 'ingress'), sessionIp, XPRA_SSL_PORT, 30_000, 500);
    // The network itself lets the neighbour through to a pod no policy selects…
    await untilConnects('the neighbour through to the listener', fromPod(NAMESPACE, 'neighbour'), listenerIp, LISTENER_PORT, 30_000, 500);
    // …but not into the session, once the same sets admit the ingress pod.
    expect(await connects(fromPod(NAMESPACE, 'neighbour'), sessionIp, XPRA_SSL_PORT)).toBe(false);
    expect(await connects(fromPod(INGRESS.namespace, 'ingress'), sessionIp, XPRA_SSL_PORT)).toBe(true);
  });

  it("lets the session out only where its role's openings say: a private address refused until an opening for it is patched in", async () => {
    expect(await connects(fromSession, listenerIp, LISTENER_PORT)).toBe(false);
    expect(await runtime.updateEgress(spec.sessionId, [{ address: listenerIp, port: LISTENER_PORT }])).toBe(true);
    await untilConnects('the opening enforced', fromSession, listenerIp, LISTENER_PORT, 60_000, 1000);
  });
});

describe('a persistent profile on a real node', () => {
  const STORAGE_CLASS = 'hs-node-local';
  const userId = randomUUID();
  const persistent = () => testSessionSpec(FIREFOX.image, { userId, profile: 'persist', profileCapMb: 64, url: 'about:blank' });
  let profiles: KubeSessionRuntime;

  beforeAll(async () => {
    await node.addLocalVolume('hs-profile-volume-0', 64, STORAGE_CLASS);
    profiles = new KubeSessionRuntime(cp.config, { namespace: NAMESPACE, stack: 'kube-node-test', ingress: INGRESS, nodeName: node.name, userNamespaces: false, profileStorageClass: STORAGE_CLASS });
  });

  it("is its claim, bound to a volume of the node and mounted where the app keeps its data; one writer; what the app wrote is in the user's next pod", async () => {
    const first = persistent();
    await startReady(profiles, first);
    const claim = await core.readNamespacedPersistentVolumeClaim({ namespace: NAMESPACE, name: kubeProfileClaimName(userId, 'firefox') });
    expect(claim.status?.phase).toBe('Bound');
    expect(claim.spec?.volumeName).toBe('hs-profile-volume-0');
    const note = randomUUID();
    const wrote = await profiles.exec(first.sessionId, ['sh', '-c', `echo ${note} > ${FIREFOX.dataDir}/hs-note && stat -c '%u %g' ${FIREFOX.dataDir}/hs-note && ls ${FIREFOX.dataDir}`], 15_000);
    expect(wrote.exitCode, wrote.stderr).toBe(0);
    expect(wrote.stdout).toContain(`${SESSION_UID} ${SESSION_UID}\n`);
    expect(wrote.stdout).toContain('times.json'); // Firefox's profile is in the volume
    // A second session of the same profile is refused while the first has it.
    await expect(profiles.ensureSession(persistent(), files)).rejects.toMatchObject({ name: 'ProfileInUseError' });
    expect(await new KubeContainerRuntime(profiles).quitApp(first.sessionId, 60)).toBe(true);
    await profiles.removeSession(first.sessionId);

    const next = persistent();
    await startReady(profiles, next);
    const read = await profiles.exec(next.sessionId, ['cat', `${FIREFOX.dataDir}/hs-note`], 15_000);
    expect(read.stdout.trim()).toBe(note);
    await profiles.removeSession(next.sessionId);
    expect(await profiles.removeProfileClaim(userId, 'firefox')).toBe(true);
  });
});
