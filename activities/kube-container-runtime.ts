/**
 * The Kubernetes runtime behind the activities' container interface (ContainerRuntime), so that
 * the same workflow and activities run a session as a pod on a worker configured for a cluster
 * (HACKSTREAM_RUNTIME=kubernetes). A session's "container" is its pod, named by the session id;
 * its files (certificate, key, token key), written by the worker as on a Docker host, become the
 * pod's Secret; readiness is the pod's, whose probe waits for the app's window
 * (kube-session-objects.ts); its egress policy is its NetworkPolicy, not the host firewall.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { XPRA_INFO_COMMAND, xpraStatusOf, type XpraStatus } from './xpra-info.js';
import type { SessionContainer, SessionSpec } from '../workflows/messages.js';
import { appWindowClose, quitByClosingWindows, type AppWindowWait } from './app-window-command.js';
import type { ContainerRuntime, ContainerState, ManagedContainer, ManagedNetwork } from './docker-session-runtime.js';
import { FILES } from './session-files.js';
import type { KubePodState, KubeSessionRuntime } from './kube-session-runtime.js';

/** The session files a pod gets (the rest are for a Docker host's processes). */
const POD_FILES = [FILES.cert, FILES.key, FILES.tokenPublicKey] as const;

/**
 * Running until the pod ended (Pending included: it may still start). A pod lost with its node
 * counts as running here: the pods' watch (worker/kube-session-monitor.ts) tells its session
 * `node_lost`, which an app's exit told first would hide.
 */
const stillRuns = (state: KubePodState): boolean => state.end === null || state.end.reason === 'node_lost';

export class KubeContainerRuntime implements ContainerRuntime {
  constructor(private readonly kube: KubeSessionRuntime) {}

  async ping(): Promise<void> {
    await this.kube.ping();
  }

  /**
   * The session's objects with its files in the Secret. `pool`: a warm pod of that pool, whose
   * token key and URL come with its claim (kube-live-files.ts). `profileDir` is a Docker host's; a
   * persistent session's claim is the cluster's (ensureSession).
   */
  async ensureSessionContainer(spec: SessionSpec, filesDir: string, pool?: string): Promise<SessionContainer> {
    const files: Record<string, string> = {};
    for (const name of POD_FILES) {
      const data = await readFile(path.join(filesDir, name), 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (data !== null) files[name] = data;
    }
    if (!files[FILES.cert] || !files[FILES.key]) throw new Error(`session ${spec.sessionId} has no certificate and key in ${filesDir} yet`);
    const state = await this.kube.ensureSession(spec, files, pool);
    return { id: spec.sessionId, name: state.name, ip: state.ip ?? '' };
  }

  /** The pod's in-place resize (a claimed warm pod started with its pool's limits); `containerId` is the session's id. */
  updateLimits(containerId: string, resources: SessionSpec['resources']): Promise<void> {
    return this.kube.resize(containerId, resources);
  }

  /** `containerId` is the session's id. */
  async inspect(containerId: string): Promise<ContainerState | null> {
    const state = await this.kube.podState(containerId);
    if (!state) return null;
    const exitCode = state.end?.reason === 'app_exited' ? state.end.exitCode : null;
    // The reference, as imageId gives it: a pod is outdated when the reference it was made with is not the pool's any more.
    return { id: containerId, running: stillRuns(state), exitCode, imageId: state.image ?? '', pid: null };
  }

  /** The cluster resolves an image on the node that runs the pod: the reference is all there is here. */
  imageId(image: string): Promise<string | null> {
    return Promise.resolve(image);
  }

  /** `xpra info` in the pod, by the kubelet's exec. */
  async xpraStatus(containerId: string): Promise<XpraStatus> {
    return xpraStatusOf(await this.kube.exec(containerId, XPRA_INFO_COMMAND, 15_000));
  }

  /** The pod's readiness, which its probe gives once the app's window is up, waited for up to `seconds`. */
  async appWindow(containerId: string, _windowClass: string, seconds: number): Promise<AppWindowWait> {
    const { reached, state } = await this.kube.waitForPod(containerId, (s) => s?.ready === true, seconds * 1000);
    if (reached) return 'shown';
    return state?.phase === 'Running' ? 'no-window' : 'no-display';
  }

  logsTail(containerId: string, lines: number): Promise<string> {
    return this.kube.logsTail(containerId, lines);
  }

  /**
   * Asks the app to close its windows and waits up to `seconds` for it to save its data and quit
   * (the pod ends with it), as on Docker. False when it still ran after them (the pod's removal
   * then ends it).
   */
  async quitApp(sessionId: string, seconds: number): Promise<boolean> {
    const state = await this.kube.podState(sessionId);
    if (!state || !stillRuns(state)) return true;
    if (!state.windowClass) return false;
    const close = appWindowClose(state.windowClass);
    const ended = this.kube.waitForPod(sessionId, (s) => s === null || s.end !== null, seconds * 1000).then((w) => w.reached, () => false);
    return quitByClosingWindows(() => this.kube.exec(sessionId, close, 10_000).then((r) => r.exitCode, () => -1), ended, seconds);
  }

  removeSessionContainers(sessionId: string): Promise<number> {
    return this.kube.removeSession(sessionId);
  }

  async listManaged(): Promise<ManagedContainer[]> {
    return (await this.kube.listManaged()).map((p) => ({
      id: p.sessionId,
      sessionId: p.sessionId,
      running: stillRuns(p.state),
      createdAt: p.createdAt,
      ...(p.state.pool ? { pool: p.state.pool } : {}),
    }));
  }

  /**
   * Sessions that have objects but no pod (a teardown cut short): what the reconciler finds as a
   * network without its container on a Docker host, and removes the same way.
   */
  async listManagedNetworks(): Promise<ManagedNetwork[]> {
    const held = await this.kube.inventory();
    return [...held].filter(([, h]) => !h.kinds.has('pod')).map(([sessionId, h]) => ({ sessionId, createdAt: h.since }));
  }
}
