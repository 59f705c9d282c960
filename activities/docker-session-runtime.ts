/**
 * Session containers on a Docker engine (dockerode). Every call is idempotent: containers are
 * found by label before one is created, and "already stopped" / "already gone" count as success,
 * because Temporal retries activities.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import PQueue from 'p-queue';
import { launchOf, windowClassOf } from '../core/catalog.js';
import { XPRA_SSL_PORT, XPRA_WS_PORT } from '../core/ingress-names.js';
import type { SessionContainer, SessionSpec } from '../workflows/messages.js';
import { LABELS, parseLabels, serializeLabels, sessionLabelFilter, stackLabelFilter } from './container-labels.js';
import { ImageMissingError, InvalidSessionSpecError } from './errors.js';
import { SESSION_FILES_MOUNT, SESSION_UID } from './session-files.js';
import { sessionBridgeName } from './session-firewall.js';
import { connectedRoutes, type SubnetPool } from './subnet-pool.js';
import { sessionEnvironment, xpraArguments, type ContainerOptions } from './xpra-arguments.js';
import { APP_WINDOW_COMMAND, APP_WINDOW_EXITS, appWindowClose, appWindowWait, quitByClosingWindows, type AppWindowWait } from './app-window-command.js';
import { XPRA_INFO_COMMAND, xpraStatusOf, type XpraStatus } from './xpra-info.js';

/** Who commands run as in the container: the session's user. */
const SESSION_USER = `${SESSION_UID}`;

export interface ContainerState {
  id: string;
  running: boolean;
  exitCode: number | null;
  /** The id of the image it runs (a tag such as `:latest` may have moved on since). */
  imageId: string;
  /** Its main process on the host while it runs (activities/container-connections.ts reads its tables). */
  pid: number | null;
}

export interface ManagedContainer {
  id: string;
  sessionId: string;
  running: boolean;
  /** Set on pre-warmed containers. */
  pool?: string;
  /** Epoch ms. */
  createdAt: number;
}

export interface ManagedNetwork {
  sessionId: string;
  /** Epoch ms. */
  createdAt: number;
}

/** Docker's default CPU weight, and the weight of containers being warmed for the pool. */
const SESSION_CPU_SHARES = 1024;
const WARMING_CPU_SHARES = 128;

/**
 * The cap on a session container's log on the Docker host: a page or app writing to its output
 * in a loop must not fill the host's disk. json-file, whatever the engine's default driver, so
 * that `docker logs` (logsTail) always works; a few MiB are plenty for the failure messages.
 */
export const SESSION_LOG_LIMITS = { maxFileMb: 10, maxFiles: 3 } as const;
const SESSION_LOG_CONFIG = {
  Type: 'json-file',
  Config: { 'max-size': `${SESSION_LOG_LIMITS.maxFileMb}m`, 'max-file': String(SESSION_LOG_LIMITS.maxFiles) },
};


/** The narrow interface activities use; one real implementation below. */
export interface ContainerRuntime {
  /**
   * Finds the session's container or creates it (on a network of its own, with the session's
   * files from `filesDir` mounted read-only, and a persistent session's profile from
   * `profileDir` where its app keeps its data), and makes sure it runs.
   */
  ensureSessionContainer(spec: SessionSpec, filesDir: string, pool?: string, profileDir?: string): Promise<SessionContainer>;
  /**
   * Asks the session's app to quit (closes its windows, as a window manager's close button does:
   * it saves its data and exits, and the container ends with it) and waits up to `seconds` for
   * that. False when the container was still running after it (its removal then kills it).
   */
  quitApp(sessionId: string, seconds: number): Promise<boolean>;
  /** Applies a session's memory, CPU and process limits to a running container (a session's own start has no CPU quota until then). */
  updateLimits(containerId: string, resources: SessionSpec['resources']): Promise<void>;
  /** The container's state, or null when it does not exist. */
  inspect(containerId: string): Promise<ContainerState | null>;
  /** The id of the image a reference names now, or null when there is no such image. */
  imageId(image: string): Promise<string | null>;
  /** Runs `xpra info` in the container. Throws when xpra does not answer. */
  xpraStatus(containerId: string): Promise<XpraStatus>;
  /**
   * Waits up to `seconds` in the container for a window of `windowClass` among those xpra
   * manages (the image's `hackstream-app-window`: it blocks on X events, nothing polls). Throws
   * when the wait could not run.
   */
  appWindow(containerId: string, windowClass: string, seconds: number): Promise<AppWindowWait>;
  /** The last lines of the container's output, for failure messages. */
  logsTail(containerId: string, lines: number): Promise<string>;
  /** Removes every container and network of the session; returns how many containers there were. */
  removeSessionContainers(sessionId: string): Promise<number>;
  /** The containers this stack made on this host, by session id. */
  listManaged(): Promise<ManagedContainer[]>;
  /** The session networks this stack made on this host (a network can outlive its container). */
  listManagedNetworks(): Promise<ManagedNetwork[]>;
  ping(): Promise<void>;
}

const statusOf = (err: unknown): number | undefined =>
  typeof err === 'object' && err !== null && 'statusCode' in err ? Number(err.statusCode) : undefined;

export const containerNameFor = (sessionId: string): string => `hackstream-session-${sessionId}`;
export const networkNameFor = (sessionId: string): string => `hackstream-session-${sessionId}`;

/** The host's connected routes (subnet-pool.ts reads the kernel's table). */
const hostRoutes = (): Array<{ network: string; prefix: number }> => {
  try {
    return connectedRoutes(readFileSync('/proc/net/route', 'utf8'));
  } catch {
    return []; // not Linux: nothing more to avoid than Docker's own networks
  }
};

/**
 * Sessions whose containers and network this runtime removes at once; more wait their turn. A
 * stop of hundreds of sessions together (a drain, the capacity benchmark's teardown) otherwise
 * asks the engine for as many removals as the worker runs activities at once. The engine does
 * them one after another in its network controller all the same, and under such a burst dockerd
 * 20.10 was seen to deadlock there, leaving containers no removal could take away.
 */
export const SESSION_REMOVALS_AT_ONCE = 4;

export class DockerSessionRuntime implements ContainerRuntime {
  private readonly removals = new PQueue({ concurrency: SESSION_REMOVALS_AT_ONCE });

  /** `stack`: the label every container and network made here carries (container-labels.ts). */
  constructor(
    private readonly docker: Docker,
    private readonly subnets: SubnetPool,
    private readonly stack: string,
    private readonly options: ContainerOptions = {},
  ) {}

  async ping(): Promise<void> {
    await this.docker.ping();
  }

  async ensureSessionContainer(spec: SessionSpec, filesDir: string, pool?: string, profileDir?: string): Promise<SessionContainer> {
    const existing = await this.findSessionContainer(spec.sessionId);
    let id: string;
    if (existing && existing.State === 'running') {
      id = existing.Id;
    } else {
      // A container left by an earlier attempt that is not running cannot become ready: replace it.
      if (existing) await this.removeContainer(existing.Id);
      const network = await this.ensureSessionNetwork(spec, pool);
      id = await this.createContainer(spec, network, filesDir, pool, profileDir);
      try {
        await this.docker.getContainer(id).start();
      } catch (err) {
        if (statusOf(err) !== 304) throw err; // 304: already started
      }
    }
    return this.describe(id, networkNameFor(spec.sessionId));
  }

  async inspect(containerId: string): Promise<ContainerState | null> {
    try {
      const info = await this.docker.getContainer(containerId).inspect();
      return {
        id: info.Id,
        running: info.State.Running,
        exitCode: info.State.Running ? null : info.State.ExitCode,
        imageId: info.Image,
        pid: info.State.Running && info.State.Pid > 0 ? info.State.Pid : null,
      };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async imageId(image: string): Promise<string | null> {
    try {
      return (await this.docker.getImage(image).inspect()).Id;
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async xpraStatus(containerId: string): Promise<XpraStatus> {
    return xpraStatusOf(await this.exec(containerId, XPRA_INFO_COMMAND, 15_000));
  }

  async appWindow(containerId: string, windowClass: string, seconds: number): Promise<AppWindowWait> {
    const { exitCode, stderr } = await this.exec(containerId, appWindowWait(windowClass, seconds), seconds * 1000 + 10_000);
    const found = APP_WINDOW_EXITS[exitCode];
    if (found === undefined) throw new Error(`${APP_WINDOW_COMMAND} exited with ${exitCode}: ${stderr.trim().slice(-300)}`);
    return found;
  }

  async logsTail(containerId: string, lines: number): Promise<string> {
    try {
      const buf = await this.docker.getContainer(containerId).logs({ stdout: true, stderr: true, tail: lines, follow: false });
      return demuxBuffer(buf);
    } catch (err) {
      if (statusOf(err) === 404) return '';
      throw err;
    }
  }

  async quitApp(sessionId: string, seconds: number): Promise<boolean> {
    const found = await this.findSessionContainer(sessionId);
    if (!found || found.State !== 'running') return true;
    const labels = parseLabels(found.Labels);
    if (!labels) return false;
    const close = appWindowClose(windowClassOf(labels));
    const exited = this.docker.getContainer(found.Id).wait({ condition: 'not-running' }).then(() => true, () => false);
    return quitByClosingWindows(() => this.exec(found.Id, close, 10_000).then((r) => r.exitCode, () => -1), exited, seconds);
  }

  removeSessionContainers(sessionId: string): Promise<number> {
    return this.removals.add(() => this.removeSessionNow(sessionId));
  }

  private async removeSessionNow(sessionId: string): Promise<number> {
    const found = await this.docker.listContainers({ all: true, filters: { label: [sessionLabelFilter(sessionId)] } });
    for (const c of found) await this.removeContainer(c.Id);
    const networks = await this.docker.listNetworks({ filters: { label: [sessionLabelFilter(sessionId)] } });
    for (const n of networks) {
      try {
        await this.docker.getNetwork(n.Id).remove();
      } catch (err) {
        if (statusOf(err) !== 404) throw err; // already gone
      }
    }
    return found.length;
  }

  async listManaged(): Promise<ManagedContainer[]> {
    const found = await this.docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=true`, stackLabelFilter(this.stack)] } });
    return found.flatMap((c) => {
      const labels = parseLabels(c.Labels);
      if (!labels) return [];
      return [{ id: c.Id, sessionId: labels.sessionId, running: c.State === 'running', createdAt: c.Created * 1000, ...(labels.pool ? { pool: labels.pool } : {}) }];
    });
  }

  async listManagedNetworks(): Promise<ManagedNetwork[]> {
    const found = await this.docker.listNetworks({ filters: { label: [`${LABELS.managed}=true`, stackLabelFilter(this.stack)] } });
    return found.flatMap((n) => {
      const labels = parseLabels(n.Labels);
      return labels ? [{ sessionId: labels.sessionId, createdAt: Date.parse(n.Created ?? '') || 0 }] : [];
    });
  }

  /**
   * Only what differs is written: an update is the engine's configuration written to disk and a
   * runc process, and concurrent ones wait on each other; a claimed warm container usually has
   * its session's limits already (provisioning set them once its app was up).
   */
  async updateLimits(containerId: string, r: SessionSpec['resources']): Promise<void> {
    const wanted = {
      CpuShares: SESSION_CPU_SHARES,
      Memory: r.memoryMb * 1024 * 1024,
      MemorySwap: r.memoryMb * 1024 * 1024,
      NanoCpus: Math.round(r.cpus * 1e9),
      PidsLimit: r.pidsLimit,
    };
    const container = this.docker.getContainer(containerId);
    const { HostConfig: current } = await container.inspect();
    if (Object.entries(wanted).every(([key, value]) => current[key as keyof typeof wanted] === value)) return;
    await container.update(wanted);
  }

  /** The address of a session's running container on its network, or null (no such container here, or not running). */
  async sessionAddress(sessionId: string): Promise<string | null> {
    const found = await this.findSessionContainer(sessionId);
    if (!found || found.State !== 'running') return null;
    return Object.values(found.NetworkSettings?.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress ?? null;
  }

  private async findSessionContainer(sessionId: string): Promise<Docker.ContainerInfo | undefined> {
    const found = await this.docker.listContainers({ all: true, filters: { label: [sessionLabelFilter(sessionId)] } });
    return found[0];
  }

  private async removeContainer(id: string): Promise<void> {
    try {
      // Quick and certain: an ephemeral session's app holds nothing worth a graceful shutdown, and
      // a persistent one's was asked to quit first (quitApp).
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      const status = statusOf(err);
      // 404: already gone; 409: removal already in progress.
      if (status !== 404 && status !== 409) throw err;
    }
  }

  private labelsFor(spec: SessionSpec, pool?: string): Record<string, string> {
    try {
      const { windowClass } = launchOf(spec);
      return serializeLabels({ sessionId: spec.sessionId, userId: spec.userId, app: spec.app, stack: this.stack, windowClass, ...(pool ? { pool } : {}) });
    } catch (err) {
      throw new InvalidSessionSpecError((err as Error).message);
    }
  }

  /**
   * Each session gets a bridge network of its own, a /28 from the session subnet pool: Docker
   * isolates bridges from each other, and the host firewall (session-firewall.ts) lets the
   * session reach the public internet and its role's openings only. No port is published on the
   * host; only the ingress on the host reaches the container, by its address on this network.
   */
  private async ensureSessionNetwork(spec: SessionSpec, pool?: string): Promise<string> {
    const name = networkNameFor(spec.sessionId);
    const all = await this.docker.listNetworks();
    if (all.some((n) => n.Name === name)) return name;
    const taken = new Set(all.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet)));
    // Nor one the host routes already (SubnetPool.routedOnHost: a bridge a killed engine left).
    for (const subnet of this.subnets.routedOnHost(hostRoutes())) taken.add(subnet);
    for (const subnet of this.subnets.subnets()) {
      if (taken.has(subnet)) continue;
      try {
        await this.docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          CheckDuplicate: true,
          Labels: this.labelsFor(spec, pool),
          IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
          // The bridge's name puts it under the host firewall's session rules (session-firewall.ts).
          Options: { 'com.docker.network.bridge.enable_icc': 'false', 'com.docker.network.bridge.name': sessionBridgeName(spec.sessionId) },
        });
        return name;
      } catch (err) {
        if (statusOf(err) === 409) return name; // this session's network, created concurrently
        // Another network took this subnet since we looked: try the next one.
        if (!/overlap/i.test(String(err))) throw err;
      }
    }
    throw new Error(`no free /28 left in the session subnet pool ${this.subnets.cidr} (HACKSTREAM_SESSION_SUBNETS)`);
  }

  private async createContainer(spec: SessionSpec, network: string, filesDir: string, pool?: string, profileDir?: string): Promise<string> {
    try {
      await this.docker.getImage(spec.image).inspect();
    } catch (err) {
      if (statusOf(err) === 404) throw new ImageMissingError(spec.image);
      throw err;
    }
    const labels = this.labelsFor(spec, pool);
    const { memoryMb, cpus, shmMb, pidsLimit } = spec.resources;
    const launch = launchOf(spec);
    const env = Object.entries(sessionEnvironment(spec, { warm: Boolean(pool), ...this.options })).map(([name, value]) => `${name}=${value}`);
    try {
      const container = await this.docker.createContainer({
        name: containerNameFor(spec.sessionId),
        Image: spec.image,
        Env: env,
        Cmd: xpraArguments(spec),
        Labels: labels,
        User: `${SESSION_UID}:${SESSION_UID}`,
        ExposedPorts: { [`${XPRA_WS_PORT}/tcp`]: {}, [`${XPRA_SSL_PORT}/tcp`]: {} },
        NetworkingConfig: { EndpointsConfig: { [network]: {} } },
        HostConfig: {
          NetworkMode: network,
          Mounts: [
            { Type: 'bind', Source: filesDir, Target: SESSION_FILES_MOUNT, ReadOnly: true },
            ...(profileDir ? [{ Type: 'bind' as const, Source: profileDir, Target: launch.dataDir }] : []),
          ],
          Memory: memoryMb * 1024 * 1024,
          MemorySwap: memoryMb * 1024 * 1024,
          // A session someone waits for starts without a CPU quota: Firefox's start is CPU-bound,
          // and provisioning applies the session's quota as soon as the window is up (how many
          // start at once is the worker's start admission). The pool's containers start within
          // theirs, nobody waits for them.
          NanoCpus: pool ? Math.round(cpus * 1e9) : 0,
          // A container warmed for the pool starts at low CPU priority, so that filling the pool
          // never slows the sessions people use; provisioning restores it once the app is up.
          CpuShares: pool ? WARMING_CPU_SHARES : SESSION_CPU_SHARES,
          ShmSize: shmMb * 1024 * 1024,
          PidsLimit: pidsLimit,
          CapDrop: ['ALL'],
          SecurityOpt: ['no-new-privileges:true'],
          ReadonlyRootfs: true,
          Tmpfs: {
            '/tmp': 'rw,nosuid,nodev,size=256m',
            '/home/hs': `rw,nosuid,nodev,size=512m,uid=${SESSION_UID},gid=${SESSION_UID},mode=0700`,
          },
          RestartPolicy: { Name: 'no' },
          // An init process reaps what xpra leaves behind (Xvfb can outlive it on exit).
          Init: true,
          LogConfig: SESSION_LOG_CONFIG,
        },
      });
      return container.id;
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) throw new ImageMissingError(spec.image);
      if (status === 409) {
        // A concurrent attempt created it between our lookup and create: use that one.
        const raced = await this.findSessionContainer(spec.sessionId);
        if (raced) return raced.Id;
      }
      throw err;
    }
  }

  private async describe(id: string, network: string): Promise<SessionContainer> {
    const info = await this.docker.getContainer(id).inspect();
    const ip = info.NetworkSettings.Networks[network]?.IPAddress;
    if (!ip) throw new Error(`container ${id} has no address on ${network} yet`);
    return { id: info.Id, name: info.Name.replace(/^\//, ''), ip };
  }

  private async exec(containerId: string, cmd: string[], timeoutMs: number): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const container = this.docker.getContainer(containerId);
    // Without a server xpra's client waits 20 s by default; a probe should fail fast.
    const exec = await container.exec({ Cmd: cmd, Env: ['XPRA_CONNECT_TIMEOUT=3'], AttachStdout: true, AttachStderr: true, User: SESSION_USER });
    const stream = await exec.start({ hijack: true, stdin: false });
    const out = new PassThrough();
    const errOut = new PassThrough();
    const chunks: Buffer[] = [];
    const errChunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    errOut.on('data', (c: Buffer) => errChunks.push(c));
    this.docker.modem.demuxStream(stream, out, errOut);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stream.destroy();
        reject(new Error(`${cmd.join(' ')} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      stream.on('end', () => {
        clearTimeout(timer);
        resolve();
      });
      stream.on('error', (e: Error) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const { ExitCode } = await exec.inspect();
    return { exitCode: ExitCode ?? -1, stdout: Buffer.concat(chunks).toString('utf8'), stderr: Buffer.concat(errChunks).toString('utf8') };
  }
}

/** Docker multiplexes stdout/stderr of non-TTY containers into 8-byte-framed chunks. */
function demuxBuffer(buf: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}
