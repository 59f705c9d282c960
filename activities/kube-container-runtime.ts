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
import type { XpraStatus } from './xpra-info.js';
import type { SessionContainer, SessionSpec } from '../workflows/messages.js';
import type { AppWindowWait } from './app-window-command.js';
import type { ContainerRuntime, ContainerState, ManagedContainer, ManagedNetwork } from './docker-session-runtime.js';
import { FILES } from './session-files.js';
import type { KubeSessionRuntime } from './kube-session-runtime.js';

/** The session files a pod gets (the rest are for a Docker host's processes). */
const POD_FILES = [FILES.cert, FILES.key, FILES.tokenPublicKey] as const;

/** How often a wait for the pod's readiness looks again. */
const READY_POLL_MS = 250;

export class KubeContainerRuntime implements ContainerRuntime {
  constructor(private readonly kube: KubeSessionRuntime) {}

  async ping(): Promise<void> {
    await this.kube.ping();
  }

  /**
   * The session's objects with its files in the Secret. `pool`: warm pods are not made on a
   * cluster yet (a claimed pod's token key would need a channel a Secret, immutable, is not).
   * `profileDir` is a Docker host's; a persistent session's claim is the cluster's (ensureSession).
   */
  async ensureSessionContainer(spec: SessionSpec, filesDir: string, pool?: string): Promise<SessionContainer> {
    if (pool !== undefined) throw new Error('warm pools are not supported on a Kubernetes node pool yet: set HACKSTREAM_POOL=off for it');
    const files: Record<string, string> = {};
    for (const name of POD_FILES) {
      const data = await readFile(path.join(filesDir, name), 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (data !== null) files[name] = data;
    }
    if (!files[FILES.cert] || !files[FILES.key]) throw new Error(`session ${spec.sessionId} has no certificate and key in ${filesDir} yet`);
    const state = await this.kube.ensureSession(spec, files);
    return { id: spec.sessionId, name: state.name, ip: state.ip ?? '' };
  }

  /** Limits are the pod's from its creation (requests equal to limits): nothing to change later. */
  updateLimits(): Promise<void> {
    return Promise.resolve();
  }

  /** `containerId` is the session's id. Running until the pod ended (Pending included: it may still start). */
  async inspect(containerId: string): Promise<ContainerState | null> {
    const state = await this.kube.podState(containerId);
    if (!state) return null;
    const exitCode = state.end?.reason === 'app_exited' ? state.end.exitCode : null;
    return { id: containerId, running: state.end === null, exitCode, imageId: state.imageId ?? '', pid: null };
  }

  /** The cluster resolves an image on the node that runs the pod: the reference is all there is here. */
  imageId(image: string): Promise<string | null> {
    return Promise.resolve(image);
  }

  xpraStatus(): Promise<XpraStatus> {
    return Promise.reject(new Error('xpra info is not read from a session pod yet: a Kubernetes session is watched by its pod (worker/kube-session-monitor.ts)'));
  }

  /** The pod's readiness, which its probe gives once the app's window is up, waited for up to `seconds`. */
  async appWindow(containerId: string, _windowClass: string, seconds: number): Promise<AppWindowWait> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const state = await this.kube.podState(containerId);
      if (state?.ready) return 'shown';
      if (Date.now() >= deadline) return state?.phase === 'Running' ? 'no-window' : 'no-display';
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
  }

  logsTail(containerId: string, lines: number): Promise<string> {
    return this.kube.logsTail(containerId, lines);
  }

  /** The pod is ended with its grace period: its app gets SIGTERM and `seconds` to save and quit. */
  quitApp(sessionId: string, seconds: number): Promise<boolean> {
    return this.kube.endPod(sessionId, seconds);
  }

  removeSessionContainers(sessionId: string): Promise<number> {
    return this.kube.removeSession(sessionId);
  }

  async listManaged(): Promise<ManagedContainer[]> {
    return (await this.kube.listManaged()).map((p) => ({ id: p.sessionId, sessionId: p.sessionId, running: p.state.end === null, createdAt: p.createdAt }));
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
