/**
 * Session pods really running: the Kubernetes runtime against the test control plane with a real
 * node (test/support/kube-node.ts: the kubelet, containerd, runc and the CNI bridge plugin on this
 * host), where the other Kubernetes tests have kwok play the pods. What only a real node shows:
 * the pod starts from the session image and is ready when its app's window is up (its startup
 * probe, run by the kubelet); the hardening the API server stores is what the kernel enforces;
 * xpra answers TLS with the session's certificate on the pod's address; the files sidecar writes
 * what the session's container may only read, through the kubelet's exec; a resize reaches the
 * container's cgroup; the pod ends with its app, its sidecar at SIGTERM; nothing stays behind.
 *
 * Not shown here: NetworkPolicies (the bridge plugin enforces none; their objects are checked at
 * the API in kube-session-runtime.test.ts) and user namespaces (Debian's containerd 1.6 has none
 * for pods: these run with `userNamespaces: false`, HACKSTREAM_KUBE_USER_NAMESPACES=off).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KUBE_FILES_CONTAINER, KUBE_SESSION_CONTAINER, LIVE_FILES_MOUNT, kubeSessionName } from '../../activities/kube-session-objects.js';
import { KubeContainerRuntime } from '../../activities/kube-container-runtime.js';
import { KubeLiveFiles } from '../../activities/kube-live-files.js';
import { KubeSessionRuntime } from '../../activities/kube-session-runtime.js';
import { FILES, SESSION_UID } from '../../activities/session-files.js';
import { readAppCatalog } from '../../core/app-catalog.js';
import { XPRA_SSL_PORT } from '../../core/ingress-names.js';
import { startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { startKubeNode, type KubeNode } from '../support/kube-node.js';
import { testSessionSpec } from '../support/session-spec.js';
import { until } from '../support/until.js';

const NAMESPACE = 'hackstream-sessions';
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
  cp = await startKubeControlPlane({ controllerManager: true });
  await cp.createNamespace(NAMESPACE);
  node = await startKubeNode(cp, { name: 'real-node', images: [FIREFOX.image] });
  core = cp.config.makeApiClient(CoreV1Api);
  runtime = new KubeSessionRuntime(cp.config, {
    namespace: NAMESPACE,
    stack: 'kube-node-test',
    ingress: { namespace: 'traefik', podLabels: { 'app.kubernetes.io/name': 'traefik' } },
    nodeName: node.name,
    userNamespaces: false,
  });
}, 300_000);

afterAll(async () => {
  await node?.stop();
  await cp?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 120_000);

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
    await runtime.ensureSession(spec, files);
    const { reached, state } = await runtime.waitForPod(spec.sessionId, (s) => s?.ready === true || (s?.end ?? null) !== null, 120_000);
    expect(reached && state?.ready, JSON.stringify(state)).toBe(true);
    expect(state?.nodeName).toBe(node.name);
    expect(state?.ip).toMatch(/^10\.89\.0\.\d+$/);
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

    const presented = await until('xpra’s TLS on the pod', () => peerCertificate(state!.ip!, XPRA_SSL_PORT).catch(() => null), 30_000, 500);
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
    expect(ended(KUBE_SESSION_CONTAINER)?.exitCode).toBe(0);
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
