/**
 * The warm pools as they were kept before each session node had its own: one activity warms a
 * container (certificate, container, routes, ready list) and one reconciles a pool, both on the
 * control queue's host. Only pool-warming runs that began before per-node pools replay them
 * (workflows/pool-warmer-workflow.ts); pools are now kept by activities/warm-containers.ts on
 * each node and activities/warm-pool-ledger.ts on the control queue. `drainPools` is what a
 * worker that stops does with its node's pools.
 */
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { PoolStore } from '../core/pool-store.js';
import type { SessionRows } from '../core/session-rows.js';
import { poolName, type PoolSpec, type WarmSlot } from '../workflows/messages.js';
import { warmContainerSpec } from '../workflows/session-spec.js';
import { poolLabel } from './container-labels.js';
import { whileHeartbeating } from './keep-alive.js';
import { POOL_ORPHAN_AGE_MS } from './warm-containers.js';
import { sessionProvisioning, type ProvisioningDeps } from './session-provisioning.js';
import { sessionRemover, type SessionRemovalDeps } from './session-removal.js';
import type { SessionRoutes } from './traefik-routes.js';

export type WarmPoolDeps = ProvisioningDeps &
  SessionRemovalDeps & {
  pools: PoolStore;
  /** To tell a claimed container (its session's row is live) from an orphan. */
  store: Pick<SessionRows, 'live'>;
  routes: SessionRoutes;
  /** The session node this worker is: the containers it warms run there. */
  node: string;
};

const poolRef = (pool: PoolSpec, node: string) => ({ node, name: poolName(pool.app, pool.quality), image: pool.image });

/**
 * Removes the unclaimed containers of this node's pools (a worker shutting down: warm containers
 * are a cache of its host and do not outlive it). Claimed ones belong to their sessions and stay.
 */
export async function drainPools(deps: WarmPoolDeps, pools: PoolSpec[]): Promise<number> {
  const remove = sessionRemover(deps);
  let removed = 0;
  for (const pool of pools) {
    const ref = poolRef(pool, deps.node);
    for (const entry of await deps.pools.list(ref)) {
      if (!(await deps.pools.takeBack(ref, entry))) continue; // claimed meanwhile
      await remove(entry.slot.sessionId);
      removed++;
    }
  }
  return removed;
}

/**
 * Starts one container for the pool: certificate, container with Firefox up on about:blank,
 * routes live, all for the session id it will serve; then offers it in the ready list.
 */
function containerWarmer(deps: WarmPoolDeps) {
  const { routes, pools } = deps;
  const provisioning = sessionProvisioning(deps);
  const removeEverything = sessionRemover(deps);
  return async (pool: PoolSpec): Promise<WarmSlot> => {
    const sessionId = randomUUID();
    const ref = poolRef(pool, deps.node);
    try {
      // Valid from a minute ago: the clocks of the clients that will verify it may lag ours.
      await provisioning.writeCertificate(sessionId, Date.now() - 60_000, pool.certLifetimeSeconds, false);
      const label = poolLabel(Context.current().info.taskQueue, ref.name);
      const container = await provisioning.startAndWaitReady(warmContainerSpec(pool, sessionId, Date.now()), label);
      await routes.add({ sessionId, containerIp: container.ip });
      await routes.waitUntilLive(sessionId);
      const slot: WarmSlot = { sessionId, app: pool.app, quality: pool.quality, containerId: container.id, containerName: container.name, ip: container.ip, readyAt: Date.now(), node: deps.node };
      await pools.add(ref, slot);
      return slot;
    } catch (err) {
      await removeEverything(sessionId);
      throw err;
    }
  };
}

export function warmPoolActivities(deps: WarmPoolDeps) {
  const { runtime, store, pools } = deps;
  const warmOne = containerWarmer(deps);
  const removeEverything = sessionRemover(deps);

  /**
   * Drops ready containers that died, aged, or run an image the pool's no longer names (an
   * upgrade rebuilt it: its session files or policies may differ); returns the session ids of
   * those still ready.
   */
  const dropDeadOrAged = async (pool: PoolSpec): Promise<{ ready: Set<string>; removed: number }> => {
    const ref = poolRef(pool, deps.node);
    const ready = new Set<string>();
    const currentImage = await runtime.imageId(pool.image);
    let removed = 0;
    for (const entry of await pools.list(ref)) {
      const state = await runtime.inspect(entry.slot.containerId);
      const tooOld = Date.now() - entry.slot.readyAt > pool.maxAgeSeconds * 1000;
      const outdated = currentImage !== null && state?.imageId !== currentImage;
      if (state?.running && !tooOld && !outdated) {
        ready.add(entry.slot.sessionId);
        continue;
      }
      // Only what we take back before a session claims it may be removed.
      if (await pools.takeBack(ref, entry)) {
        await removeEverything(entry.slot.sessionId);
        removed++;
      }
    }
    return { ready, removed };
  };

  /** Removes the pool's containers that are neither ready nor a live session's (a claim whose session never started). */
  const dropOrphans = async (label: string, ready: Set<string>): Promise<number> => {
    const candidates = (await runtime.listManaged()).filter(
      (c) => c.pool === label && !ready.has(c.sessionId) && Date.now() - c.createdAt > POOL_ORPHAN_AGE_MS,
    );
    const live = await store.live(candidates.map((c) => c.sessionId));
    const orphans = candidates.filter((c) => !live.has(c.sessionId));
    for (const c of orphans) await removeEverything(c.sessionId);
    return orphans.length;
  };

  return {
    /**
     * Drops ready containers that died or grew too old, and pool containers nobody owns;
     * returns how many ready ones are left.
     */
    async reconcilePool(pool: PoolSpec): Promise<{ ready: number; removed: number }> {
      const label = poolLabel(Context.current().info.taskQueue, poolName(pool.app, pool.quality));
      return whileHeartbeating(async () => {
        const { ready, removed } = await dropDeadOrAged(pool);
        const orphans = await dropOrphans(label, ready);
        return { ready: ready.size, removed: removed + orphans };
      });
    },

    /** Warms one container (containerWarmer). */
    async warmContainer(pool: PoolSpec): Promise<WarmSlot> {
      return whileHeartbeating(() => warmOne(pool));
    },
  };
}
