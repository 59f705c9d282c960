/**
 * Where a session runs: its placement on a session node, reserved in the node registry
 * (core/node-registry.ts) before anything is made for it, and given back when it has ended.
 */
import type { PlacementStrategy } from '../core/node-names.js';
import type { NodeRegistry } from '../core/node-registry.js';
import type { ProfileRows } from '../core/profile-rows.js';

export interface NodePlacementDeps {
  nodes: Pick<NodeRegistry, 'place' | 'release'>;
  profileRows: Pick<ProfileRows, 'find' | 'settleNode'>;
  placement: {
    strategy: PlacementStrategy;
    /** Nodes not heard from for this long get no new session. */
    aliveWithinSeconds: number;
  };
}

export interface PlaceSessionInput {
  sessionId: string;
  memoryMb: number;
  cpus: number;
  labels: Record<string, string>;
  /** The node of the warm container the session was given, tried first. */
  warmNode: string | null;
  /** A persistent session's profile: it runs where the profile's volume is (made where it is first placed). */
  profile?: { userId: string; app: string };
}

export function nodePlacementActivities(deps: NodePlacementDeps) {
  const { nodes, placement } = deps;
  return {
    /** The node the session is placed on (the same one again for a retry), or null when none has room. */
    async placeSession(input: PlaceSessionInput): Promise<string | null> {
      const home = input.profile ? await deps.profileRows.find(input.profile.userId, input.profile.app) : null;
      const node = await nodes.place({
        sessionId: input.sessionId,
        memoryMb: input.memoryMb,
        cpus: input.cpus,
        labels: input.labels,
        strategy: placement.strategy,
        preferred: input.warmNode ? [input.warmNode] : [],
        aliveSince: new Date(Date.now() - placement.aliveWithinSeconds * 1000),
        ...(home ? { only: [home.nodeId] } : {}),
      });
      if (node !== null && input.profile && !home) await deps.profileRows.settleNode(input.profile.userId, input.profile.app, node);
      return node;
    },

    /** Gives the session's room back (once; nothing to give for a session never placed). */
    async releasePlacement(input: { sessionId: string }): Promise<{ released: boolean }> {
      return { released: await nodes.release(input.sessionId) };
    },
  };
}
