/**
 * The session files that change while a pod runs (LiveSessionFiles), on Kubernetes: written by
 * the worker's exec in the pod's files sidecar (kube-session-objects.ts KUBE_FILES_CONTAINER),
 * where a Docker host's SessionFiles writes them into the session's directory. A pod's Secret
 * is immutable and its mount read-only, so what a claim or an account change brings goes there.
 */
import type { KubeSessionRuntime } from './kube-session-runtime.js';
import { FILES, type LiveSessionFiles } from './session-files.js';

export class KubeLiveFiles implements LiveSessionFiles {
  constructor(private readonly kube: Pick<KubeSessionRuntime, 'writeLiveFile'>) {}

  /** A claimed warm pod's token key: from now on its session's tokens work. */
  async writeTokenPublicKey(sessionId: string, tokenPublicKeyHex: string): Promise<void> {
    await this.written(sessionId, FILES.tokenPublicKey, tokenPublicKeyHex);
  }

  /** A claimed warm pod's URL, which its url watch opens (images/session/url-watch.sh). */
  async handOverUrl(sessionId: string, url: string): Promise<void> {
    await this.written(sessionId, FILES.openUrl, url);
  }

  /** Appends a bound (SessionFiles.refuseNativeTokens); false when the session has no pod (it ended). */
  refuseNativeTokens(sessionId: string, issuedUntil: number): Promise<boolean> {
    return this.kube.writeLiveFile(sessionId, FILES.tokensRefusedUntil, String(issuedUntil));
  }

  private async written(sessionId: string, name: string, content: string): Promise<void> {
    if (!(await this.kube.writeLiveFile(sessionId, name, content))) throw new Error(`session ${sessionId} has no pod to write ${name} in`);
  }
}
