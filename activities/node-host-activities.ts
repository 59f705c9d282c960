/**
 * The activities that act on a session node's own host, run on the node's task queue: the
 * session's container, cold (`provisionSession`) or claimed warm (`claimWarmContainer`), and its
 * removal (`removeSession`). Nothing here reaches the control plane's database, Redis or CA: an
 * edge node registers these, its key's half of session-certificates.ts and warm-containers.ts,
 * and nothing else (worker/edge-node.ts).
 */
import type { App } from '../core/catalog.js';
import type { SessionContainer, SessionSpec, WarmSlot } from '../workflows/messages.js';
import type { ContainerRuntime } from './docker-session-runtime.js';
import { ContainerExitedError } from './errors.js';
import { whileHeartbeating } from './keep-alive.js';
import { containerStarter, type ContainerStartDeps } from './session-provisioning.js';
import type { ProfileVolumes } from './profile-volumes.js';
import type { LiveSessionFiles } from './session-files.js';
import { sessionRemover, type RemovedSession, type SessionRemovalDeps } from './session-removal.js';

export type NodeHostDeps = ContainerStartDeps &
  SessionRemovalDeps & {
  runtime: Pick<ContainerRuntime, 'inspect' | 'updateLimits'>;
  /** Where a claimed warm container gets its session's token key and URL (a host's session directory, or a pod's files). */
  liveFiles: Pick<LiveSessionFiles, 'writeTokenPublicKey' | 'handOverUrl'>;
  profiles: Pick<ProfileVolumes, 'remove'>;
};

export function nodeHostActivities(deps: NodeHostDeps) {
  const { runtime, liveFiles } = deps;
  const startAndWaitReady = containerStarter(deps);
  const removeEverything = sessionRemover(deps);
  return {
    /** Creates (or finds) the session's container and waits until the app's window exists. */
    provisionSession(spec: SessionSpec): Promise<SessionContainer> {
      return whileHeartbeating(() => startAndWaitReady(spec));
    },

    /**
     * Makes a claimed warm container the session's: its token public key (until now it admitted
     * nobody; the API gives it with the slot), its role's egress openings, the user's limits, and
     * the requested page in the Firefox that is already up.
     */
    async claimWarmContainer(input: { spec: SessionSpec; slot: WarmSlot }): Promise<SessionContainer> {
      const { spec, slot } = input;
      // Slots handed out before the API gave the key start cold (the workflow's fallback).
      if (!slot.tokenPublicKeyHex) throw new Error(`warm container ${slot.containerName} came without its session's token key`);
      const state = await runtime.inspect(slot.containerId);
      if (!state?.running) throw new ContainerExitedError(`warm container ${slot.containerName} is no longer running`);
      await liveFiles.writeTokenPublicKey(spec.sessionId, slot.tokenPublicKeyHex);
      // A warm container was started with no openings: only a role with some needs the firewall.
      if (spec.policy.egress?.length) await deps.firewall.open(spec.sessionId, spec.policy.egress);
      await Promise.all([runtime.updateLimits(slot.containerId, spec.resources), spec.url ? liveFiles.handOverUrl(spec.sessionId, spec.url) : undefined]);
      return { id: slot.containerId, name: slot.containerName, ip: slot.ip };
    },

    /**
     * Removes everything the session had on this host, in the one order of
     * activities/session-removal.ts (on a node of another host, its routes and credentials are
     * not here: the workflow closes those on the control queue first).
     */
    async removeSession(input: { sessionId: string }): Promise<RemovedSession> {
      return removeEverything(input.sessionId);
    },

    /** Deletes a user's persistent profile of an app on this host (an admin's deletion); refused while mounted. */
    async deleteProfileVolume(input: { userId: string; app: App }): Promise<{ deleted: boolean }> {
      return { deleted: await deps.profiles.remove({ userId: input.userId, app: input.app }) };
    },
  };
}
