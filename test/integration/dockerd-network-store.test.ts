/**
 * stack/lib.sh's start_dockerd against Debian's dockerd panicking at start on its own network store
 * (moby/moby#45057: killed while removing a network, the store keeps the network without its
 * address pool). The chaos suite's dockerd kills leave such a store now and then; here it is made
 * on purpose, on a Docker engine of this test's own (its own root, socket, pid file and default
 * bridge, no firewall rules), never the one the rest of the suite runs on: a network is created, the
 * engine stopped, and the network's address pool cut from the store the way the kill leaves it.
 * start_dockerd must see the panic, move the store aside, delete the network's bridge, and bring
 * the engine up, on which the same network can be created again.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.js';

const dir = mkdtempSync(path.join(tmpdir(), 'hs-dockerd-'));
const root = path.join(dir, 'root');
const pidFile = path.join(dir, 'docker.pid');
const logDir = path.join(dir, 'logs');
const bridge = `hsdt${process.pid % 100_000}`;
const subnet = '10.214.255.240/28'; // outside the default session pool (10.213.0.0/16)
// The engine's default bridge: one of its own. (Without one, --bridge=none, dockerd deletes the
// host's docker0 at start, the other engine's.)
const defaultBridge = `hsdtb${process.pid % 100_000}`;

const env = {
  ...process.env,
  DOCKER_HOST: `unix://${dir}/docker.sock`,
  HS_DOCKERD_DATA_ROOT: root,
  HS_DOCKERD_PIDFILE: pidFile,
  HS_DOCKERD_FLAGS: [
    `--data-root ${root}`,
    `--exec-root ${dir}/exec`,
    `--pidfile ${pidFile}`,
    `-H unix://${dir}/docker.sock`,
    `--bridge=${defaultBridge} --iptables=false --ip-masq=false`,
  ].join(' '),
};

/** start_dockerd of stack/lib.sh, as up.sh and the watchdog run it; its output. */
function startDockerd(): string {
  const run = spawnSync('bash', ['-c', 'source stack/lib.sh && start_dockerd "$1"', 'start-dockerd', logDir], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    timeout: 150_000,
  });
  if (run.status !== 0) throw new Error(`start_dockerd failed (${run.status}): ${run.stdout}${run.stderr}\n${dockerdLog().slice(-3000)}`);
  return run.stdout;
}

const docker = (...args: string[]): string => execFileSync('docker', args, { env, encoding: 'utf8' }).trim();
const engineAnswers = (): boolean => spawnSync('docker', ['info'], { env, stdio: 'ignore' }).status === 0;
const dockerdLog = (): string => (existsSync(path.join(logDir, 'dockerd.log')) ? readFileSync(path.join(logDir, 'dockerd.log'), 'utf8') : '');
const bridgeExists = (name = bridge): boolean => existsSync(`/sys/class/net/${name}/bridge`);

async function stopDockerd(): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  for (let i = 0; i < 120 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 250));
  if (existsSync(`/proc/${pid}`)) throw new Error(`the test's dockerd (pid ${pid}) did not stop`);
}

/** The engine's network store: under its user namespace, in the remapped root (ROOT/UID.GID). */
function networkStoreDir(): string {
  const remapped = readdirSync(root).filter((d) => /^\d+\.\d+$/.test(d));
  expect(remapped).toHaveLength(1);
  return path.join(root, remapped[0]!, 'network', 'files');
}

/**
 * What the kill leaves: the network still in the store, its allocated address pool (ipamV4Info, a
 * JSON document kept as a JSON string) gone. The document is blanked in place to an empty list of
 * the same length, so the store's pages keep their layout.
 */
function cutAddressPools(store: string): number {
  const bytes = readFileSync(store);
  const key = Buffer.from('"ipamV4Info":"');
  let cut = 0;
  for (let at = bytes.indexOf(key); at >= 0; at = bytes.indexOf(key, at + 1)) {
    const start = at + key.length;
    let end = start;
    while (!(bytes[end] === 0x22 && bytes[end - 1] !== 0x5c)) end++;
    bytes.fill(0x20, start, end).write('[]', start);
    cut++;
  }
  writeFileSync(store, bytes);
  return cut;
}

beforeAll(() => {
  // The remapped root must be reachable by the remapped uids: o+x on the way to it.
  chmodSync(dir, 0o711);
  execFileSync('ip', ['link', 'add', defaultBridge, 'type', 'bridge']);
  execFileSync('ip', ['addr', 'add', '10.214.254.1/24', 'dev', defaultBridge]);
});

afterAll(async () => {
  await stopDockerd();
  for (const name of [bridge, defaultBridge]) if (bridgeExists(name)) spawnSync('ip', ['link', 'delete', name]);
  // The engine mounts its remapped root onto itself; it stays mounted after the engine stops.
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(dir))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', [m]);
  rmSync(dir, { recursive: true, force: true });
});

describe('start_dockerd and a network store that makes dockerd panic', () => {
  it('moves the store aside, deletes its networks’ bridges and brings the engine up', async () => {
    startDockerd();
    docker('network', 'create', '--subnet', subnet, '-o', `com.docker.network.bridge.name=${bridge}`, 'hs-panic-probe');
    expect(bridgeExists()).toBe(true);
    await stopDockerd();
    const storeDir = networkStoreDir();
    expect(cutAddressPools(path.join(storeDir, 'local-kv.db'))).toBeGreaterThan(0);

    const output = startDockerd();

    expect(engineAnswers()).toBe(true);
    expect(dockerdLog()).toMatch(/panic: runtime error: index out of range[\s\S]*reservePools/);
    expect(output).toContain('network store made it panic');
    expect(output).toContain(`bridges deleted: ${bridge}`);
    const aside = readdirSync(storeDir).filter((f) => f.startsWith('local-kv.db.panicked-'));
    expect(aside).toHaveLength(1);
    expect(bridgeExists()).toBe(false);
    expect(bridgeExists(defaultBridge)).toBe(true); // the engine's default bridge is kept
    expect(docker('network', 'ls', '--format', '{{.Name}}').split('\n')).not.toContain('hs-panic-probe');
    // The subnet and the bridge's name are free again: the session of a new network may take them.
    docker('network', 'create', '--subnet', subnet, '-o', `com.docker.network.bridge.name=${bridge}`, 'hs-panic-probe');
    expect(bridgeExists()).toBe(true);
  });

  it('leaves a sound store alone: a plain restart keeps the networks', async () => {
    const storeDir = networkStoreDir();
    const asideBefore = readdirSync(storeDir).filter((f) => f.startsWith('local-kv.db.panicked-')).length;
    await stopDockerd();

    const output = startDockerd();

    expect(output).not.toContain('network store made it panic');
    expect(readdirSync(storeDir).filter((f) => f.startsWith('local-kv.db.panicked-'))).toHaveLength(asideBefore);
    expect(docker('network', 'ls', '--format', '{{.Name}}').split('\n')).toContain('hs-panic-probe');
    expect(bridgeExists()).toBe(true);
  });
});
