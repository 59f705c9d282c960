/**
 * A throwaway Kubernetes control plane on loopback for the Kubernetes runtime's tests: etcd,
 * kube-apiserver (RBAC, a static admin token) and kwok, which plays the nodes and the pods'
 * status (no kubelet: pods do not really run); on request kube-controller-manager with only its
 * node lifecycle and taint eviction controllers (a node kwok stops playing goes NotReady and its
 * pods are evicted). Built from the Go module proxy by tools/k8s-control-plane/build.sh into
 * .tools/k8s-control-plane/bin.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { ApiextensionsV1Api, CoreV1Api, KubeConfig, loadAllYaml, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { loggedProcesses } from './logged-processes.js';
import { REPO_ROOT } from './paths.js';
import { freePort } from './ports.js';
import { until } from './until.js';

export const KUBE_TOOLS_BIN = path.join(REPO_ROOT, '.tools', 'k8s-control-plane', 'bin');

/**
 * The kubelet's part, which kwok does not play: a pod whose app ended, its status as the kubelet
 * would write it (the phase, and every container terminated with this exit).
 */
export async function endPodAsKubelet(core: CoreV1Api, namespace: string, name: string, end: { phase: 'Succeeded' | 'Failed'; exitCode: number; reason: string }): Promise<void> {
  const pod = await core.readNamespacedPod({ namespace, name });
  pod.status = { ...pod.status, phase: end.phase, containerStatuses: (pod.status?.containerStatuses ?? []).map((c) => ({ ...c, ready: false, state: { terminated: { exitCode: end.exitCode, reason: end.reason } } })) };
  await core.replaceNamespacedPodStatus({ namespace, name, body: pod });
}

/**
 * The kubelet's part, which kwok does not play, that in-place resize needs: a running pod's
 * containers report the resources they run with (the API server refuses a resize on a node whose
 * kubelet does not).
 */
export async function reportResourcesAsKubelet(core: CoreV1Api, namespace: string, name: string): Promise<void> {
  const pod = await core.readNamespacedPod({ namespace, name });
  const specOf = (container: string) => pod.spec?.containers.find((c) => c.name === container)?.resources;
  pod.status = { ...pod.status, containerStatuses: (pod.status?.containerStatuses ?? []).map((c) => ({ ...c, resources: specOf(c.name) })) };
  await core.replaceNamespacedPodStatus({ namespace, name, body: pod });
}

export interface KubeControlPlane {
  server: string;
  /** The API server's certificate (self-signed), and the admin's bearer token: for clients that take no kubeconfig. */
  caFile: string;
  token: string;
  kubeconfigFile: string;
  config: KubeConfig;
  /** A node kwok keeps Ready. */
  nodeName: string;
  /** Makes a namespace as a cluster has it: with its `default` service account (no controller makes it here). */
  createNamespace(name: string): Promise<void>;
  /**
   * Adds a node played by a kwok of its own (its kubelet, as it were), once it is Ready. With
   * `execDir`, that kwok also serves the kubelet's API to the API server, and a command exec'd in
   * any pod on the node runs on this host, found first in `execDir` (where a test puts what plays
   * the pod's commands).
   */
  addNode(name: string, opts?: { execDir?: string }): Promise<void>;
  /** Kills the kwok that plays a node added by `addNode`: it sends no more heartbeats, as a node whose host died. */
  silenceNode(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Every pod's commands run on kwok's host, in its working directory, with its PATH (kwok's ClusterExec). */
const CLUSTER_EXEC = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: on-this-host
spec:
  execs:
    - local:
        workDir: /tmp
`;

/** The annotation kwok manages nodes by (its `--manage-nodes-with-annotation-selector`). */
const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

/** How often kwok's nodes send a heartbeat (kwok's own stages: every 20 to 25 s): a silent node is then told from a live one within seconds. */
const HEARTBEAT_MS = { every: 2000, upTo: 3000 };
/** The controller manager's view of node health: a node silent this long is NotReady. */
const NODE_GRACE_SECONDS = 10;

/**
 * `controllerManager`: with the node lifecycle and taint eviction controllers, and when asked the
 * volume binder (`volumeBinding`: claims bound to volumes) and the EndpointSlice controller
 * (`endpointSlices`: a Service's endpoints from its ready pods, for pods that really run);
 * `traefikCrds`: with Traefik's CustomResourceDefinitions installed (as Traefik's chart would),
 * established.
 */
export async function startKubeControlPlane(
  opts: { controllerManager?: boolean; volumeBinding?: boolean; endpointSlices?: boolean; traefikCrds?: boolean } = {},
): Promise<KubeControlPlane> {
  const bin = (name: string) => {
    const file = path.join(KUBE_TOOLS_BIN, name);
    if (!existsSync(file)) throw new Error(`${file} is missing: run bash tools/k8s-control-plane/build.sh`);
    return file;
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-kube-'));
  // kwok, then the API server, then etcd at the stop: the reverse of their start.
  const processes = loggedProcesses(dir);
  /** Starts a binary, its output in `<logName>.log` (the binary's name by default). */
  const launch = (name: string, args: string[], logName = name, env: Record<string, string> = {}) => processes.launch(bin(name), args, logName, env);
  const { logOf } = processes;
  const stop = async () => {
    await processes.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    launch('etcd', [
      '--name=test',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=test=${peerUrl}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await until('etcd healthy', async () => ((await (await fetch(`${etcdUrl}/health`)).json()) as { health?: string }).health === 'true' || null, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${logOf('etcd')}`);
    });

    const token = randomBytes(24).toString('hex');
    writeFileSync(path.join(dir, 'tokens.csv'), `${token},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(path.join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const pki = path.join(dir, 'pki');
    mkdirSync(pki);
    launch('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${pki}`,
      // Endpoints refuse loopback addresses: nothing reconciles the API's own.
      '--endpoint-reconciler-type=none',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${path.join(dir, 'sa.key')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--enable-priority-and-fairness=false',
      // kwok's nodes have an address only (127.0.0.1), no host name that resolves.
      '--kubelet-preferred-address-types=InternalIP',
    ]);
    const server = `https://127.0.0.1:${apiPort}`;
    const caFile = path.join(pki, 'apiserver.crt');
    await until('kube-apiserver ready', () => (existsSync(caFile) ? readyz(server, readFileSync(caFile), token) : null), 90_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${logOf('kube-apiserver')}`);
    });

    const kubeconfigFile = path.join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfigFile,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server, 'certificate-authority': caFile } }],
        users: [{ name: 'admin', user: { token } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin' } }],
        'current-context': 'test',
      }),
      { mode: 0o600 },
    );
    const config = new KubeConfig();
    config.loadFromFile(kubeconfigFile);
    const core = config.makeApiClient(CoreV1Api);

    const shipped = readFileSync(path.join(KUBE_TOOLS_BIN, 'kwok-stages.yaml'), 'utf8');
    const stages = shipped
      .replace('durationMilliseconds: 20000', `durationMilliseconds: ${HEARTBEAT_MS.every}`)
      .replace('jitterDurationMilliseconds: 25000', `jitterDurationMilliseconds: ${HEARTBEAT_MS.upTo}`);
    if (stages === shipped) throw new Error("kwok's heartbeat stage no longer reads as expected (durationMilliseconds: 20000): update HEARTBEAT_MS's rewrite");
    writeFileSync(path.join(dir, 'kwok-stages.yaml'), stages);
    // One kwok per node, managing the nodes annotated with its name: killing it silences that node alone.
    const kwokFor = async (node: string, execDir?: string) => {
      const args = [`--kubeconfig=${kubeconfigFile}`, '--manage-all-nodes=false', `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=${node}`];
      if (!execDir) return launch('kwok', [...args, `--config=${path.join(dir, 'kwok-stages.yaml')}`], `kwok-${node}`);
      // Its kubelet API on a port of its own, over TLS (the API server does not verify it here).
      const port = await freePort();
      const cert = path.join(dir, `kwok-${node}.crt`);
      const key = path.join(dir, `kwok-${node}.key`);
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${node}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
      const config = path.join(dir, `kwok-${node}.yaml`);
      writeFileSync(config, `${stages}\n---\n${CLUSTER_EXEC}`);
      return launch(
        'kwok',
        [...args, `--config=${config}`, `--server-address=127.0.0.1:${port}`, '--node-ip=127.0.0.1', `--node-port=${port}`, `--tls-cert-file=${cert}`, `--tls-private-key-file=${key}`],
        `kwok-${node}`,
        { PATH: `${execDir}:${process.env['PATH'] ?? ''}` },
      );
    };
    const kwoks = new Map<string, ChildProcess>();
    if (opts.controllerManager) {
      launch('kube-controller-manager', [
        `--kubeconfig=${kubeconfigFile}`,
        `--controllers=${[
          'node-lifecycle-controller',
          'taint-eviction-controller',
          ...(opts.volumeBinding ? ['persistentvolume-binder-controller'] : []),
          ...(opts.endpointSlices ? ['endpointslice-controller'] : []),
        ].join(',')}`,
        '--leader-elect=false',
        '--secure-port=0',
        '--node-monitor-period=1s',
        `--node-monitor-grace-period=${NODE_GRACE_SECONDS}s`,
      ]);
    }
    const addNode = async (name: string, nodeOpts: { execDir?: string } = {}) => {
      kwoks.set(name, await kwokFor(name, nodeOpts.execDir));
      await core.createNode({
        body: {
          metadata: { name, annotations: { [KWOK_NODE_ANNOTATION]: name }, labels: { type: 'kwok', 'kubernetes.io/hostname': name } },
          status: { allocatable: { cpu: '32', memory: '256Gi', pods: '110' }, capacity: { cpu: '32', memory: '256Gi', pods: '110' } },
        },
      });
      await until(
        `the kwok node ${name} Ready`,
        async () => (await core.readNode({ name })).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') || null,
        60_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${logOf(`kwok-${name}`)}`);
      });
    };
    const nodeName = 'kwok-node-0';
    await addNode(nodeName);
    if (opts.traefikCrds) await installCrds(config, readFileSync(path.join(bin('traefik-crds.yaml')), 'utf8'));

    return {
      server,
      caFile,
      token,
      kubeconfigFile,
      config,
      nodeName,
      async createNamespace(name) {
        await core.createNamespace({ body: { metadata: { name } } });
        await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
      },
      addNode,
      async silenceNode(name) {
        const kwok = kwoks.get(name);
        if (!kwok) throw new Error(`no kwok plays node ${name}`);
        const exited = new Promise((r) => kwok.once('exit', r));
        kwok.kill('SIGKILL');
        await exited;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function installCrds(config: KubeConfig, yamlText: string): Promise<void> {
  const api = config.makeApiClient(ApiextensionsV1Api);
  const crds = (loadAllYaml(yamlText) as V1CustomResourceDefinition[]).filter((d) => d?.kind === 'CustomResourceDefinition');
  for (const body of crds) await api.createCustomResourceDefinition({ body });
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    await until(`the CRD ${name} established`, async () => (await api.readCustomResourceDefinition({ name })).status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') || null, 30_000);
  }
}

function readyz(server: string, ca: Buffer, token: string): Promise<true | null> {
  return new Promise((resolve) => {
    const req = https.get(`${server}/readyz`, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? true : null);
    });
    req.on('error', () => resolve(null));
    req.setTimeout(5000, () => req.destroy());
  });
}
