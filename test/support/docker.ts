import os from 'node:os';
import Docker from 'dockerode';
import { LABELS, poolLabel, sessionLabelFilter } from '../../activities/container-labels.js';
import type { DockerSessionRuntime } from '../../activities/docker-session-runtime.js';
import { SessionFiles } from '../../activities/session-files.js';
import { readAppCatalog } from '../../core/app-catalog.js';
import type { XpraStatus } from '../../activities/xpra-info.js';
import { createLogger } from '../../core/logger.js';
import { sessionUserOnHost } from '../../worker/user-namespace.js';
import { nodeTaskQueue } from '../../workflows/messages.js';

export const docker = new Docker({ socketPath: process.env['HACKSTREAM_DOCKER_SOCKET'] ?? '/var/run/docker.sock' });

/**
 * A running container of `image` that only sleeps (no network, 16 MiB, hardened as a session's),
 * labelled `labels`: a session's stand-in where only its container's existence matters.
 */
export async function sleepingContainer(image: string, labels: Record<string, string>, name?: string): Promise<Docker.Container> {
  const container = await docker.createContainer({
    ...(name ? { name } : {}),
    Image: image,
    Entrypoint: ['sleep', 'infinity'],
    Cmd: [],
    User: '1000',
    Labels: labels,
    HostConfig: { NetworkMode: 'none', Memory: 16 * 2 ** 20, CapDrop: ['ALL'], ReadonlyRootfs: true, SecurityOpt: ['no-new-privileges'] },
  });
  await container.start();
  return container;
}

/**
 * The engine's own record of a container: its events of one kind between `since` and `until`
 * (epoch seconds; a fraction is taken), each event's `Action` (`exec_create: sh -c …`, `update`).
 */
export async function containerEvents(containerId: string, event: string, since: number, until: number): Promise<string[]> {
  const stream = await docker.getEvents({ since, until, filters: { type: ['container'], container: [containerId], event: [event] } });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => String((JSON.parse(line) as { Action: string }).Action));
}

/** Session files as the worker writes them: owned by the session's user as the engine maps it. */
export async function sessionFilesIn(root: string): Promise<SessionFiles> {
  return new SessionFiles(root, await sessionUserOnHost(docker, { required: true, remapUser: 'dockremap' }, createLogger({ level: 'error', service: 'test', json: false })));
}

/** All containers (running or not) labelled with this session. */
/** Removes the warm containers, and their networks, a pool of a task queue's node left (its worker closed, nothing else removes them). */
export async function removePoolContainers(taskQueue: string, nodeId: string, pool: string): Promise<void> {
  const filters = { label: [`${LABELS.pool}=${poolLabel(nodeTaskQueue(taskQueue, nodeId), pool)}`] };
  for (const c of await docker.listContainers({ all: true, filters })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove().catch(() => undefined);
}

export async function sessionContainers(sessionId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [sessionLabelFilter(sessionId)] } });
}

/**
 * An address of this host beyond its loopback and bridges (one a session might try: the host
 * firewall refuses it): the first non-internal IPv4 address that is not a Docker bridge.
 */
export function hostAddress(): string {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (name.startsWith('docker') || name.startsWith('br-') || name.startsWith('hs-') || name.startsWith('veth') || name.startsWith('xw-')) continue;
    const v4 = addrs?.find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) return v4.address;
  }
  throw new Error('this host has no non-loopback IPv4 address for session containers to reach');
}

/** Runs a command in a container as the session user; returns its exit code and combined output. */
export async function execIn(containerId: string, cmd: string[]): Promise<{ exitCode: number; output: string }> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, User: '1000' });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const { ExitCode } = await exec.inspect();
  // Strip Docker's 8-byte stream frame headers.
  const raw = Buffer.concat(chunks);
  const parts: Buffer[] = [];
  for (let i = 0; i + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(i + 4);
    parts.push(raw.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return { exitCode: ExitCode ?? -1, output: Buffer.concat(parts).toString('utf8') };
}

/** Connects to argv[1]:argv[2] within 2 s; with argv[3] "read", also reads what the server says first (2 s). */
const TCP_PROBE = `
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), 2)
except Exception as e:
    print("closed", e)
    sys.exit()
greeting = ""
if sys.argv[3] == "read":
    c.settimeout(2)
    try:
        greeting = c.recv(64).decode(errors="replace").strip()
    except Exception:
        pass
c.close()
print("open", greeting)
`;

const FIREFOX = readAppCatalog().firefox!;

/** A TCP connection from inside the container, as the session user, to host:port. */
async function probeFrom(containerId: string, host: string, port: number, mode: 'connect' | 'read'): Promise<{ open: boolean; greeting: string }> {
  const { output } = await execIn(containerId, ['python3', '-c', TCP_PROBE, host, String(port), mode]);
  const open = output.startsWith('open');
  return { open, greeting: open ? output.slice('open'.length).trim() : '' };
}

/** Whether a TCP connection from inside the container to host:port opens within 2 s. */
export async function canConnectFrom(containerId: string, host: string, port: number): Promise<boolean> {
  return (await probeFrom(containerId, host, port, 'connect')).open;
}

/**
 * What a TCP server at host:port says first to a process in the container ('' if nothing
 * connects). Proves a reach where a bare connection would not: a transparent proxy on the
 * host's default route accepts connections to any address.
 */
export async function greetingFrom(containerId: string, host: string, port: number): Promise<string> {
  return (await probeFrom(containerId, host, port, 'read')).greeting;
}

/** Waits as provisioning does until the app's window exists (60 s at most). */
export async function untilAppWindow(runtime: DockerSessionRuntime, containerId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    // Fails while the container is too new to run it; the wait itself blocks until the window.
    const found = await runtime.appWindow(containerId, FIREFOX.windowClass, Math.max(1, (deadline - Date.now()) / 1000)).catch(() => null);
    if (found === 'shown') return;
    if (Date.now() > deadline) throw new Error(`no Firefox window in ${containerId} after 60 s (${found ?? 'the wait could not run'})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The same, then what xpra reports. */
export async function waitForApp(runtime: DockerSessionRuntime, containerId: string): Promise<XpraStatus> {
  await untilAppWindow(runtime, containerId);
  return runtime.xpraStatus(containerId);
}
