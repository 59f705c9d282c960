/**
 * The warm pools' control-side activities (control queue): which session nodes keep a pool and
 * how many containers each may warm, and each node's ready list in Redis (core/pool-store.ts):
 * offering a warmed container, taking back the ones to drop before anyone claims them. The
 * containers themselves are the nodes' (activities/warm-containers.ts).
 */
import type { NodeRegistry, NodeView } from '../core/node-registry.js';
import type { PoolStore, WarmSlot } from '../core/pool-store.js';
import type { SessionRows } from '../core/session-rows.js';
import { poolName, type PoolSpec } from '../workflows/messages.js';

export interface WarmPoolLedgerDeps {
  pools: PoolStore;
  /** To tell a claimed container (its session's row is live) from an orphan. */
  store: Pick<SessionRows, 'live'>;
  nodes: Pick<NodeRegistry, 'list'>;
  placement: {
    /** Nodes not heard from for this long are left alone until they are. */
    aliveWithinSeconds: number;
  };
}

/**
 * What a run does with one node's pools: `keep` them (an active node heard from recently: warm
 * up to `targets[i]` containers of pool i), `drop` them (a draining node: its containers are
 * removed), or `forget` them (a lost or revoked node: its slots are taken back so nobody claims
 * them; what runs there is removed when the node is back, as unlisted pool containers).
 */
export type PoolNode = { node: string; action: 'keep'; targets: number[] } | { node: string; action: 'drop' | 'forget' };

/**
 * How many of each pool's containers a node may keep: its pool size, as long as the node would
 * still have room for a session from each (memory, CPU, a session slot): a warm container is
 * there to become a session on that node.
 */
export function poolTargets(node: Pick<NodeView, 'capacity' | 'reserved'>, pools: readonly PoolSpec[]): number[] {
  let { memoryMb, cpus, sessions } = node.reserved;
  return pools.map((pool) => {
    let target = 0;
    while (
      target < pool.size &&
      memoryMb + pool.resources.memoryMb <= node.capacity.memoryMb &&
      cpus + pool.resources.cpus <= node.capacity.cpus + 1e-9 &&
      sessions + 1 <= node.capacity.maxSessions
    ) {
      target++;
      memoryMb += pool.resources.memoryMb;
      cpus += pool.resources.cpus;
      sessions++;
    }
    return target;
  });
}

const ref = (node: string, pool: PoolSpec) => ({ node, name: poolName(pool.app, pool.quality), image: pool.image });

export function warmPoolLedgerActivities(deps: WarmPoolLedgerDeps) {
  const { pools, store, nodes, placement } = deps;
  return {
    /** Every node that has or may have a pool, and what this run does with it. */
    async poolNodes(input: { pools: PoolSpec[] }): Promise<PoolNode[]> {
      const aliveSince = Date.now() - placement.aliveWithinSeconds * 1000;
      const out: PoolNode[] = [];
      for (const n of await nodes.list()) {
        if (n.state === 'active' && (n.lastHeartbeatAt ?? 0) >= aliveSince) out.push({ node: n.id, action: 'keep', targets: poolTargets(n, input.pools) });
        else if (n.state === 'draining') out.push({ node: n.id, action: 'drop' });
        else if (n.state === 'lost' || n.state === 'revoked') out.push({ node: n.id, action: 'forget' });
      }
      return out;
    },

    /** The node's ready slots of the pool. */
    async listWarmSlots(input: { node: string; pool: PoolSpec }): Promise<WarmSlot[]> {
      return (await pools.list(ref(input.node, input.pool))).map((e) => e.slot);
    },

    /** A warmed container, claimable from now on. */
    async offerWarmSlot(input: { node: string; pool: PoolSpec; slot: WarmSlot }): Promise<void> {
      await pools.add(ref(input.node, input.pool), input.slot);
    },

    /**
     * Takes these ready slots back (all of them when `sessionIds` is null) before anyone claims
     * them, and returns what may be removed: the slots taken back (not those a session claimed
     * meanwhile) and the `unlisted` containers whose session is not live (orphans).
     */
    async takeBackWarmSlots(input: { node: string; pool: PoolSpec; sessionIds: string[] | null; unlisted?: string[] }): Promise<string[]> {
      const pool = ref(input.node, input.pool);
      const wanted = input.sessionIds === null ? null : new Set(input.sessionIds);
      const removable: string[] = [];
      for (const entry of await pools.list(pool)) {
        if (wanted !== null && !wanted.has(entry.slot.sessionId)) continue;
        if (await pools.takeBack(pool, entry)) removable.push(entry.slot.sessionId);
      }
      const unlisted = input.unlisted ?? [];
      const live = await store.live(unlisted);
      return [...removable, ...unlisted.filter((id) => !live.has(id))];
    },
  };
}
