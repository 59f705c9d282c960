/**
 * A real Kubernetes node for the tests, joined to a test control plane (kube-control-plane.ts):
 * the kubelet (built from k8s.io/kubernetes by tools/k8s-control-plane/build.sh), a containerd of
 * its own (Debian's, with its CRI plugin) that runs pods with runc, and the CNI bridge plugin
 * (Debian's containernetworking-plugins) giving each pod an address on a bridge of this host. No
 * registry is reachable: the images come from this host's Docker engine (`docker save`, then
 * `ctr images import`), the pods' sandbox image is the `pause` command build.sh makes.
 *
 * NetworkPolicies are enforced by kube-router's firewall alone (its network policy
 * controller, no routing or service proxy; built by build.sh too), filtering the bridged traffic
 * between pods. Debian's containerd (1.6) has no user namespaces for pods, so session pods run
 * here with HACKSTREAM_KUBE_USER_NAMESPACES=off.
 * Everything it starts and mounts is gone after `stop()`: pods deleted through the API (the
 * kubelet tears them down, the CNI plugin frees their addresses), then the processes, then what a
 * killed run could have left (shims, mounts, network namespaces, the bridge, cgroups).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, StorageV1Api } from '@kubernetes/client-node';
import { mountSources } from '../../activities/profile-volumes.js';
import { KUBE_TOOLS_BIN, type KubeControlPlane } from './kube-control-plane.js';
import { loggedProcesses } from './logged-processes.js';
import { freePort } from './ports.js';
import { until } from './until.js';

const run = promisify(execFile);

/**
 * What one node has of this host, by its slot (two test files may each run a node at once): the
 * pods' bridge and subnet, the node's address (the bridge's: the pods' gateway), and the cgroup
 * the kubelet puts its pods under (its `cgroupRoot`).
 */
interface NodeSlot {
  bridge: string;
  podSubnet: string;
  nodeIp: string;
  cgroupRoot: string;
}

const slotOf = (n: number): NodeSlot => ({
  // Not hs-…: that prefix is the Docker sessions' bridges, whose xpra ports the host firewall closes to host processes.
  bridge: `hsknode${n}`,
  podSubnet: `10.89.${n}.0/24`,
  nodeIp: `10.89.${n}.1`,
  cgroupRoot: `hs-kubenode${n}`,
});
/** The cgroup v1 hierarchies the kubelet checks its cgroup root in. */
const CGROUP_V1_CONTROLLERS = ['systemd', 'cpuacct', 'cpu', 'pids', 'cpuset', 'memory', 'blkio', 'devices', 'freezer', 'hugetlb', 'unified'];
const PAUSE_IMAGE = 'docker.io/hackstream/kube-pause:test';

export interface KubeNode {
  name: string;
  /** The pods' subnet on this host. */
  podSubnet: string;
  /** The ids of the containers runc runs for this node (sandboxes included). */
  containers(): Promise<string[]>;
  /**
   * Makes a local PersistentVolume of this node (a directory of its own) of `capacityMi`, in
   * `storageClass` (made with it, binding claims at once, provisioning none).
   */
  addLocalVolume(name: string, capacityMi: number, storageClass: string): Promise<void>;
  stop(): Promise<void>;
}

const cgroupV2 = () => existsSync('/sys/fs/cgroup/cgroup.controllers');

function cgroupDirs(root: string): string[] {
  if (cgroupV2()) return [path.join('/sys/fs/cgroup', root)];
  return CGROUP_V1_CONTROLLERS.map((c) => path.join('/sys/fs/cgroup', c)).filter((d) => existsSync(d)).map((d) => path.join(d, root));
}

function makeCgroups(root: string): void {
  for (const dir of cgroupDirs(root)) {
    mkdirSync(dir, { recursive: true });
    // A new cpuset has no CPUs and no memory nodes until given its parent's.
    if (dir.startsWith('/sys/fs/cgroup/cpuset/')) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(path.join(dir, f), readFileSync(path.join(path.dirname(dir), f)));
    }
  }
  if (cgroupV2()) writeFileSync(path.join('/sys/fs/cgroup', root, 'cgroup.subtree_control'), '+cpu +memory +pids +cpuset');
}

const cgroupsBelow = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) => [...cgroupsBelow(path.join(dir, e.name)), path.join(dir, e.name)]) : [];

/** Every process still in the node's cgroups (what its pods ran, should a teardown have been cut short). */
function processesInCgroups(root: string): number[] {
  const pids = new Set<number>();
  for (const top of cgroupDirs(root)) {
    for (const dir of [top, ...cgroupsBelow(top)]) {
      const procs = path.join(dir, 'cgroup.procs');
      if (existsSync(procs)) for (const pid of readFileSync(procs, 'utf8').split('\n').filter(Boolean)) pids.add(Number(pid));
    }
  }
  return [...pids];
}

/** Removes the node's cgroups, the deepest first (a cgroup goes only once empty). */
function removeCgroups(root: string): void {
  for (const top of cgroupDirs(root)) {
    for (const dir of [...cgroupsBelow(top), top]) {
      try {
        execFileSync('rmdir', [dir], { stdio: 'ignore' });
      } catch {
        /* still has a process: reported by the caller's checks, not here */
      }
    }
  }
}

const containerdConfig = (root: string, state: string, socket: string, cniDir: string) => `version = 2
root = "${root}"
state = "${state}"
[grpc]
  address = "${socket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # This host may not lower a process's OOM score (no CAP_SYS_RESOURCE here), which the kubelet
  # asks for a Guaranteed pod's sandbox: runc would fail to start it.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "${path.join(state, 'runc')}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniDir}"
`;

const cniConfig = (slot: NodeSlot, ipamDir: string) =>
  JSON.stringify({
    cniVersion: '0.4.0',
    name: 'hs-kubenode',
    plugins: [
      {
        type: 'bridge',
        bridge: slot.bridge,
        isGateway: true,
        // No way out through this host's address (no rules to leave behind): the tests' pods need none.
        ipMasq: false,
        ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: slot.podSubnet, gateway: slot.nodeIp }]] },
      },
    ],
  });

const kubeletConfig = (slot: NodeSlot, socket: string, port: number) => `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${slot.nodeIp}
port: ${port}
readOnlyPort: 0
healthzPort: 0
# The API server's exec and attach reach it from loopback; nothing else can (its address is the pods' bridge's).
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
cgroupDriver: cgroupfs
cgroupRoot: /${slot.cgroupRoot}
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://${socket}
registerNode: true
# A shared test host: no eviction or image collection of its own making.
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  imagefs.available: "1%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: /etc/resolv.conf
`;

/** The mount points under `prefixes`, the deepest first. */
function mountsUnder(prefixes: string[]): string[] {
  return [...mountSources(readFileSync('/proc/self/mountinfo', 'utf8')).keys()]
    .filter((m) => prefixes.some((p) => m.startsWith(`${p}/`)))
    .sort((a, b) => b.length - a.length);
}

const netnsNames = (): string[] => (existsSync('/var/run/netns') ? readdirSync('/var/run/netns') : []);

/** The iptables chains the kubelet makes (its canaries, and a rule against martian loopback traffic), removed with the node. */
async function removeKubeletChains(): Promise<void> {
  const ipt = (args: string[]) => Promise.all(['iptables', 'ip6tables'].map((bin) => run(bin, ['-w', ...args]).catch(() => undefined)));
  await ipt(['-t', 'filter', '-D', 'INPUT', '-j', 'KUBE-FIREWALL']);
  await ipt(['-t', 'filter', '-D', 'OUTPUT', '-j', 'KUBE-FIREWALL']);
  for (const [table, chain] of [['filter', 'KUBE-FIREWALL'], ['filter', 'KUBE-KUBELET-CANARY'], ['nat', 'KUBE-KUBELET-CANARY'], ['mangle', 'KUBE-KUBELET-CANARY'], ['mangle', 'KUBE-IPTABLES-HINT']] as const) {
    await ipt(['-t', table, '-F', chain]);
    await ipt(['-t', table, '-X', chain]);
  }
}

/**
 * kube-router's firewall rules and address sets, removed after it stopped (its own
 * `--cleanup-config` panics in this release): the jumps to its chains first, then its chains,
 * then the sets they matched.
 */
const REMOVE_KUBE_ROUTER_RULES = `chains='^(KUBE-ROUTER-|KUBE-NWPLCY-|KUBE-POD-FW-)'
for t in filter nat mangle raw; do
  iptables -w -t $t -S | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE-ROUTER-|KUBE-NWPLCY-|KUBE-POD-FW-)' | sed 's/^-A/-D/' |
    while read -r rule; do eval "iptables -w -t $t $rule"; done
  own=$(iptables -w -t $t -S | sed -n 's/^-N //p' | grep -E "$chains" || true)
  for c in $own; do iptables -w -t $t -F "$c"; done
  for c in $own; do iptables -w -t $t -X "$c"; done
done
for set in $(ipset list -n | grep -E '^(KUBE-|kube-router)' || true); do ipset destroy "$set"; done`;

/** Traffic between the node's pods is bridged through the FORWARD chain (br_netfilter), whose policy Docker sets to DROP. */
const bridged = (slot: NodeSlot) => ['FORWARD', '-i', slot.bridge, '-o', slot.bridge, '-j', 'ACCEPT'];

/**
 * `slot`: which of this host's node slots (0 or 1) it takes, one per test file that runs a node.
 * `networkPolicies`: with kube-router's network policy controller enforcing them (else pods reach
 * each other freely, as with the bridge plugin alone); one node of the host at a time (its rules'
 * chains are the host's).
 */
export async function startKubeNode(cp: KubeControlPlane, opts: { name: string; slot: 0 | 1; images: string[]; networkPolicies?: boolean }): Promise<KubeNode> {
  const slot = slotOf(opts.slot);
  for (const bin of ['containerd', 'ctr', 'runc', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback']) {
    if (bin.startsWith('/') ? !existsSync(bin) : (await run('sh', ['-c', `command -v ${bin}`]).catch(() => null)) === null) {
      throw new Error(`${bin} is missing: stack/lib.sh's HS_APT_TEST installs containerd, runc and containernetworking-plugins`);
    }
  }
  const kubelet = path.join(KUBE_TOOLS_BIN, 'kubelet');
  const pause = path.join(KUBE_TOOLS_BIN, 'pause');
  const kubeRouter = path.join(KUBE_TOOLS_BIN, 'kube-router');
  for (const bin of [kubelet, pause, kubeRouter]) if (!existsSync(bin)) throw new Error(`${bin} is missing: run bash tools/k8s-control-plane/build.sh`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-kubenode-'));
  const state = path.join('/run', path.basename(dir));
  const socket = path.join(state, 'containerd.sock');
  const runcRoot = path.join(state, 'runc');
  const netnsBefore = new Set(netnsNames());
  const { launch, logOf, stop: stopProcesses } = loggedProcesses(dir);
  const core = cp.config.makeApiClient(CoreV1Api);

  const stop = async () => {
    // The pods first, through the API: the kubelet stops their containers and the CNI plugin frees their addresses.
    const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${opts.name}` }).catch(() => ({ items: [] }));
    for (const p of pods.items) {
      await core.deleteNamespacedPod({ namespace: p.metadata!.namespace!, name: p.metadata!.name!, gracePeriodSeconds: 0 }).catch(() => undefined);
    }
    await until('the node’s containers gone', async () => ((await containers()).length === 0 ? true : null), 60_000, 500).catch(() => undefined);
    await stopProcesses();
    // What a cut-short teardown would leave: the shims of this containerd, runc's containers, mounts, network namespaces.
    await run('pkill', ['-KILL', '-f', '--', `-address ${socket}`]).catch(() => undefined);
    for (const id of await containers()) await run('runc', ['--root', runcRoot, 'delete', '--force', id]).catch(() => undefined);
    for (const pid of processesInCgroups(slot.cgroupRoot)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await until('the node’s processes gone', () => (processesInCgroups(slot.cgroupRoot).length === 0 ? true : null), 10_000).catch(() => undefined);
    for (const m of mountsUnder([dir, state])) await run('umount', ['-l', m]).catch(() => undefined);
    // A namespace new since this node started and with no process left is one its pods left (a live one may be another node's).
    for (const ns of netnsNames().filter((n) => n.startsWith('cni-') && !netnsBefore.has(n))) {
      const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: 'unknown' }));
      if (stdout.trim() === '') await run('ip', ['netns', 'delete', ns]).catch(() => undefined);
    }
    await run('ip', ['link', 'delete', slot.bridge]).catch(() => undefined);
    await run('iptables', ['-w', '-D', ...bridged(slot)]).catch(() => undefined);
    if (opts.networkPolicies) await run('sh', ['-c', REMOVE_KUBE_ROUTER_RULES]).catch(() => undefined);
    await removeKubeletChains();
    removeCgroups(slot.cgroupRoot);
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  };
  const containers = async (): Promise<string[]> => {
    if (!existsSync(runcRoot)) return [];
    const { stdout } = await run('runc', ['--root', runcRoot, 'list', '-q']).catch(() => ({ stdout: '' }));
    return stdout.split('\n').filter(Boolean);
  };

  try {
    // A bridge a killed run left would have the node's address already.
    await run('ip', ['link', 'delete', slot.bridge]).catch(() => undefined);
    await run('ip', ['link', 'add', slot.bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${slot.nodeIp}/24`, 'dev', slot.bridge]);
    await run('ip', ['link', 'set', slot.bridge, 'up']);
    await run('iptables', ['-w', '-A', ...bridged(slot)]);
    makeCgroups(slot.cgroupRoot);

    mkdirSync(state, { recursive: true, mode: 0o700 });
    const cniDir = path.join(dir, 'cni');
    mkdirSync(cniDir);
    writeFileSync(path.join(cniDir, '10-hs-kubenode.conflist'), cniConfig(slot, path.join(state, 'ipam')));
    writeFileSync(path.join(dir, 'containerd.toml'), containerdConfig(path.join(dir, 'containerd'), state, socket, cniDir));
    launch('containerd', ['--config', path.join(dir, 'containerd.toml')], 'containerd');
    await until('containerd’s socket', () => (existsSync(socket) ? true : null), 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${logOf('containerd')}`);
    });

    // The sandbox image, and the pods' images, from this host's Docker engine.
    const pauseContext = path.join(dir, 'pause-image');
    mkdirSync(pauseContext);
    copyFileSync(pause, path.join(pauseContext, 'pause'));
    writeFileSync(path.join(pauseContext, 'Dockerfile'), 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n');
    await run('docker', ['build', '-q', '-t', PAUSE_IMAGE.replace(/^docker\.io\//, ''), pauseContext]);
    for (const image of [PAUSE_IMAGE.replace(/^docker\.io\//, ''), ...opts.images]) {
      await run('sh', ['-c', 'docker save "$1" | ctr -a "$2" -n k8s.io images import -', 'import', image, socket], { maxBuffer: 16 * 1024 * 1024 });
    }

    const port = await freePort();
    writeFileSync(path.join(dir, 'kubelet.yaml'), kubeletConfig(slot, socket, port));
    launch(
      kubelet,
      [
        `--config=${path.join(dir, 'kubelet.yaml')}`,
        `--kubeconfig=${cp.kubeconfigFile}`,
        `--root-dir=${path.join(dir, 'kubelet')}`,
        `--hostname-override=${opts.name}`,
        `--node-ip=${slot.nodeIp}`,
        '--node-labels=type=kubelet',
      ],
      'kubelet',
    );
    await until(
      `the kubelet's node ${opts.name} Ready`,
      async () => (await core.readNode({ name: opts.name }).catch(() => null))?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') || null,
      90_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${logOf('kubelet')}`);
    });
    if (opts.networkPolicies) {
      launch(
        kubeRouter,
        [`--kubeconfig=${cp.kubeconfigFile}`, `--hostname-override=${opts.name}`, '--run-firewall=true', '--run-router=false', '--run-service-proxy=false', '--enable-cni=false', '--health-port=0', '--metrics-port=0'],
        'kube-router',
      );
      // Its chain in FORWARD is what says it enforces.
      await until('kube-router’s firewall', async () => ((await run('iptables', ['-w', '-S', 'FORWARD'])).stdout.includes('KUBE-ROUTER-FORWARD') ? true : null), 60_000, 500).catch((err: Error) => {
        throw new Error(`${err.message}\n${logOf('kube-router')}`);
      });
    }
    const addLocalVolume = async (name: string, capacityMi: number, storageClass: string) => {
      const storage = cp.config.makeApiClient(StorageV1Api);
      await storage.readStorageClass({ name: storageClass }).catch(() =>
        storage.createStorageClass({ body: { metadata: { name: storageClass }, provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'Immediate' } }),
      );
      const local = path.join(dir, 'volumes', name);
      mkdirSync(local, { recursive: true, mode: 0o700 });
      await core.createPersistentVolume({
        body: {
          metadata: { name },
          spec: {
            capacity: { storage: `${capacityMi}Mi` },
            accessModes: ['ReadWriteOncePod'],
            persistentVolumeReclaimPolicy: 'Retain',
            storageClassName: storageClass,
            local: { path: local },
            nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [opts.name] }] }] } },
          },
        },
      });
    };
    return { name: opts.name, podSubnet: slot.podSubnet, containers, addLocalVolume, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
