/**
 * A second session host on this one machine: a Docker engine of its own (its own data root, exec
 * root, socket and default bridge) in a network namespace of its own, joined to the host by a
 * veth pair and routed like another machine on the LAN. The host routes the node's session subnets
 * to it; the node's default route is the host, whose FORWARD chain lets the node out (its sessions
 * reach the outside world's test pages as the host's do) and replies back in, and nothing else.
 *
 * The engine runs under `nsenter --net` rather than `ip netns exec`: the latter remounts /sys,
 * which hides the host's cgroup hierarchies from dockerd. Its images are the host engine's, copied
 * with `docker save | docker load` (no registry here).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';

export interface SecondEngine {
  /** The node's network namespace (`ip netns` name). */
  netns: string;
  /** The engine's socket. */
  socket: string;
  docker: Docker;
  /** The host's address on the link to the node, and the node's. */
  hostAddress: string;
  nodeAddress: string;
  /** Where the node's session networks come from (HACKSTREAM_SESSION_SUBNETS): routed to the node. */
  sessionSubnets: string;
  /** A directory of the node's own (session files, logs). */
  dir: string;
  /** The command prefix that runs a program in the node's network namespace. */
  inNamespace: string[];
  /** Starts the engine (again, after kill()); resolves once it answers. */
  start(): Promise<void>;
  /** kill -9 of the engine and its containerd: containers are left as a crash leaves them. */
  kill(): void;
  /** Copies an image of the host's engine into this one. */
  copyImage(image: string): void;
  /**
   * Makes a host service reachable inside the namespace at the same port on every address there
   * (as a name like `localhost` would be on another machine): a relay process in the namespace
   * dialling the host's end of the link. Connections are dialled from inside, so a namespace that
   * drops inbound connections still lets them through.
   */
  relayFromHost(port: number, hostPort?: number): Promise<void>;
  /** Stops everything, removes the namespace, routes, rules and files. */
  remove(): Promise<void>;
}

const RELAY = `
const net = require('node:net');
const [port, host, hostPort] = [Number(process.argv[1]), process.argv[2], Number(process.argv[3])];
net.createServer((c) => {
  const up = net.connect(hostPort, host);
  c.pipe(up).pipe(c);
  c.on('error', () => up.destroy());
  up.on('error', () => c.destroy());
}).listen(port, '0.0.0.0', () => console.log('relaying'));
`;

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
const attempt = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
/** The host's FORWARD rules for a node's link: the node out, and replies back in. */
const forwardRulesOf = (hostLink: string) => [
  ['-i', hostLink, '-j', 'ACCEPT'],
  ['-o', hostLink, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
];
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

/**
 * `index` (0–63) keeps two engines of one run apart; addresses are 10.215.<index*4>.0/30 and
 * 10.216.<index>.0/24. `dropInbound`: an edge site behind NAT, which no connection from outside
 * reaches: the namespace refuses every new connection that arrives on its link (a TCP reset), into
 * itself or forwarded to its containers, and answers only what it dialled itself.
 */
export async function startSecondEngine(index = 0, opts: { dropInbound?: boolean } = {}): Promise<SecondEngine> {
  const tag = `${process.pid % 10_000}${index}`;
  const netns = `hs-node-${tag}`;
  const hostLink = `vethn${tag}`;
  const nodeLink = `hsnn${tag}`;
  const hostAddress = `10.215.${index * 4}.1`;
  const nodeAddress = `10.215.${index * 4}.2`;
  const sessionSubnets = `10.216.${index}.0/24`;
  const dir = mkdtempSync(path.join(tmpdir(), 'hs-node-'));
  // The engine's remapped root must be reachable by the remapped uids: o+x on the way to it.
  chmodSync(dir, 0o711);
  const socket = path.join(dir, 'docker.sock');
  const pidFile = path.join(dir, 'docker.pid');
  const inNamespace = ['nsenter', `--net=/run/netns/${netns}`];
  const forwardRules = forwardRulesOf(hostLink);

  clearStale(hostAddress, sessionSubnets);
  run('ip', ['netns', 'add', netns]);
  run('ip', ['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', nodeLink]);
  run('ip', ['link', 'set', nodeLink, 'netns', netns]);
  run('ip', ['addr', 'add', `${hostAddress}/30`, 'dev', hostLink]);
  run('ip', ['link', 'set', hostLink, 'up']);
  const inNs = (...args: string[]) => run('ip', ['netns', 'exec', netns, ...args]);
  inNs('ip', 'addr', 'add', `${nodeAddress}/30`, 'dev', nodeLink);
  inNs('ip', 'link', 'set', nodeLink, 'up');
  inNs('ip', 'link', 'set', 'lo', 'up');
  inNs('ip', 'route', 'add', 'default', 'via', hostAddress);
  run('ip', ['route', 'add', sessionSubnets, 'via', nodeAddress]);
  for (const rule of forwardRules) run('iptables', ['-w', '10', '-I', 'FORWARD', '1', ...rule]);

  const docker = new Docker({ socketPath: socket });
  const answers = () => docker.ping().then(() => true, () => false);
  let pid = 0;

  const start = async () => {
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
    const log = openSync(path.join(dir, 'logs', 'dockerd.log'), 'a');
    const child = spawn(
      inNamespace[0]!,
      [
        ...inNamespace.slice(1),
        'dockerd',
        `--data-root=${path.join(dir, 'root')}`,
        `--exec-root=${path.join(dir, 'exec')}`,
        `--pidfile=${pidFile}`,
        `--host=unix://${socket}`,
        '--userns-remap=default',
        `--bip=10.217.${index}.1/24`,
      ],
      { detached: true, stdio: ['ignore', log, log] },
    );
    child.unref();
    pid = child.pid!;
    const deadline = Date.now() + 60_000;
    while (!(await answers())) {
      if (!alive(pid)) throw new Error(`the second engine exited while starting:\n${engineLog(dir).slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`the second engine did not answer within 60 s:\n${engineLog(dir).slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const containerdPid = (): number | null => {
    const file = path.join(dir, 'exec', 'containerd', 'containerd.pid');
    return existsSync(file) ? Number(readFileSync(file, 'utf8')) : null;
  };

  const kill = () => {
    const pids = [pid, containerdPid()].filter((p): p is number => p !== null && p > 0 && alive(p));
    for (const p of pids) process.kill(p, 'SIGKILL');
  };

  const relays: ChildProcess[] = [];
  const relayFromHost = async (port: number, hostPort = port) => {
    const relay = spawn(inNamespace[0]!, [...inNamespace.slice(1), process.execPath, '-e', RELAY, String(port), hostAddress, String(hostPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
    relays.push(relay);
    await new Promise<void>((resolve, reject) => {
      relay.stdout.once('data', () => resolve());
      relay.once('exit', (code) => reject(new Error(`the relay into the namespace exited (${code})`)));
    });
  };

  const untilGone = async (p: number | null) => {
    for (let i = 0; p && i < 120 && alive(p); i++) await new Promise((r) => setTimeout(r, 250));
  };

  const remove = async () => {
    for (const relay of relays) relay.kill();
    if (pid && alive(pid)) {
      const containers = await docker.listContainers({ all: true }).catch(() => []);
      await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
      const cd = containerdPid();
      process.kill(pid, 'SIGTERM');
      await untilGone(pid);
      await untilGone(cd);
    }
    // The engine mounts its remapped root onto itself (and its containers' layers): unmount, deepest first.
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(dir))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) attempt('umount', ['-l', m]);
    for (const rule of forwardRules) attempt('iptables', ['-w', '10', '-D', 'FORWARD', ...rule]);
    attempt('ip', ['route', 'del', sessionSubnets]);
    // Deleting the namespace deletes its end of the veth pair, and so the pair.
    attempt('ip', ['netns', 'delete', netns]);
    attempt('ip', ['link', 'delete', hostLink]);
    rmSync(dir, { recursive: true, force: true });
  };

  const inboundRules = [
    ['INPUT', '-i', nodeLink, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
    ['INPUT', '-i', nodeLink, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
    ['INPUT', '-i', nodeLink, '-j', 'DROP'],
  ];
  try {
    await start();
    if (opts.dropInbound) {
      for (const [chain, ...rule] of inboundRules) inNs('iptables', '-w', '10', '-A', chain!, ...rule);
      // Ahead of Docker's own forwarding rules: nothing new from the link into a container either.
      inNs('iptables', '-w', '10', '-I', 'FORWARD', '1', '-i', nodeLink, '-p', 'tcp', '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'REJECT', '--reject-with', 'tcp-reset');
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    netns,
    socket,
    docker,
    hostAddress,
    nodeAddress,
    sessionSubnets,
    dir,
    inNamespace,
    start,
    kill,
    relayFromHost,
    copyImage(image) {
      const copied = spawnSync('bash', ['-c', 'set -o pipefail; docker save "$1" | docker -H "unix://$2" load', 'copy-image', image, socket], { encoding: 'utf8' });
      if (copied.status !== 0) throw new Error(`copying ${image} into the second engine failed: ${copied.stderr}`);
    },
    remove,
  };
}

/**
 * What a run killed before its `remove()` (a cancelled CI job, a kill -9 of the test runner) left
 * at this index: the host's end of its link (which would route the node's link subnet to a dead
 * namespace), the route of its session subnets, its namespace and whatever still runs there.
 * The same index in a live run is never stale: files using an index run one at a time.
 */
function clearStale(hostAddress: string, sessionSubnets: string): void {
  const holders = spawnSync('ip', ['-o', '-4', 'addr', 'show', 'to', hostAddress], { encoding: 'utf8' }).stdout;
  for (const link of holders.split('\n').map((line) => line.split(/\s+/)[1]).filter((l): l is string => !!l)) {
    const shown = spawnSync('ip', ['-o', 'link', 'show', link], { encoding: 'utf8' }).stdout;
    const stale = /link-netns (hs-node-\d+)/.exec(shown)?.[1];
    if (stale) {
      const pids = spawnSync('ip', ['netns', 'pids', stale], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      for (const p of pids) attempt('kill', ['-9', p]);
      attempt('ip', ['netns', 'delete', stale]);
    }
    attempt('ip', ['link', 'delete', link]);
    for (const rule of forwardRulesOf(link)) while (attempt('iptables', ['-w', '10', '-D', 'FORWARD', ...rule]));
  }
  attempt('ip', ['route', 'del', sessionSubnets]);
}

function engineLog(dir: string): string {
  const file = path.join(dir, 'logs', 'dockerd.log');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}
