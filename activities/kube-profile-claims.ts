/**
 * Users' persistent profiles on a Kubernetes node pool, behind the same calls as a Docker host's
 * file system images (profile-volumes.ts): a profile is a PersistentVolumeClaim the cluster
 * mounts into the session's pod (kube-session-runtime.ts makes it, one writer at a time), so
 * nothing is mounted on the worker's host. The worker does not see inside a claim: a session's
 * end records no usage (the quota still caps the claim's size).
 */
import type { AttachedProfile, ProfileKey } from './profile-volumes.js';
import type { KubeSessionRuntime } from './kube-session-runtime.js';

export class KubeProfileClaims {
  constructor(private readonly kube: KubeSessionRuntime) {}

  /** Nothing to mount here: the pod mounts its claim. */
  attach(_sessionId: string, _key: ProfileKey, capMb: number): Promise<AttachedProfile> {
    return Promise.resolve({ dir: '', usedMb: 0, capMb });
  }

  /** Whether the session's pod has a profile, whose app must be given time to save before the pod goes. */
  async isAttached(sessionId: string): Promise<boolean> {
    return (await this.kube.podState(sessionId))?.persistent ?? false;
  }

  /** The claim outlives the session and stays bound to nothing once its pod is gone; its usage is not known here. */
  detach(): Promise<null> {
    return Promise.resolve(null);
  }

  /** No mount points on the worker's host: a claim without its pod is no leftover (it outlives its sessions). */
  list(): Promise<Array<{ sessionId: string; since: number }>> {
    return Promise.resolve([]);
  }

  /** Deletes the user's claim of the app (one still mounted goes once its pod has: the cluster protects claims in use). */
  remove(key: ProfileKey): Promise<boolean> {
    return this.kube.removeProfileClaim(key.userId, key.app);
  }
}
