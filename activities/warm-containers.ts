/**
 * A warm pool's work on its session node, run on the node's task queue: starting a container
 * ahead of demand, and saying which of the pool's containers on this engine are no longer usable.
 * What the pool holds (its ready list in Redis), the certificate's signature and the routes are
 * the control queue's (activities/warm-pool-ledger.ts); the pool-warming workflow joins the two,
 * so a node needs neither Redis nor the CA nor the ingress's routes to keep a pool
 * (workflows/pool-warmer-workflow.ts).
 */
import { Context } from '@temporalio/activity';
import { poolName, type PoolSpec, type SessionContainer } from '../workflows/messages.js';
import { warmContainerSpec } from '../workflows/session-spec.js';
import { poolLabel } from './container-labels.js';
import type { ContainerRuntime } from './docker-session-runtime.js';
import { whileHeartbeating } from './keep-alive.js';
import { containerStarter, type ContainerStartDeps } from './session-provisioning.js';

/** A pool container that is neither ready nor claimed after this long was orphaned. */
export const POOL_ORPHAN_AGE_MS = 2 * 60_000;

export type WarmContainerDeps = ContainerStartDeps & { runtime: Pick<ContainerRuntime, 'inspect' | 'imageId' | 'listManaged'> };

/** A ready slot as the node is asked about it. */
export interface WarmSlotOnNode {
  sessionId: string;
  containerId: string;
  /** Epoch ms when it became ready. */
  readyAt: number;
}

export interface WarmContainerCheck {
  /** Ready slots whose container died, aged, or runs an image the pool no longer names. */
  unusable: string[];
  /**
   * The pool's containers on this engine that are in no ready slot and older than
   * POOL_ORPHAN_AGE_MS: claimed by a session, or orphaned (the control side tells which).
   */
  unlisted: string[];
}

/** The label of a pool's containers on the node whose queue runs the activity. */
const labelHere = (pool: PoolSpec) => poolLabel(Context.current().info.taskQueue, poolName(pool.app, pool.quality));

export function warmContainerActivities(deps: WarmContainerDeps) {
  const { runtime } = deps;
  const startAndWaitReady = containerStarter(deps);
  return {
    /**
     * Starts one container of the pool for `sessionId` (its certificate is installed already)
     * and waits until Firefox is up on about:blank. A failure is removed by the workflow.
     */
    async startWarmContainer(input: { pool: PoolSpec; sessionId: string }): Promise<SessionContainer> {
      const label = labelHere(input.pool);
      return whileHeartbeating(() => startAndWaitReady(warmContainerSpec(input.pool, input.sessionId, Date.now()), label));
    },

    /** Which of the pool's ready slots on this node are unusable, and which of its containers no slot lists. */
    async checkWarmContainers(input: { pool: PoolSpec; slots: WarmSlotOnNode[] }): Promise<WarmContainerCheck> {
      const { pool, slots } = input;
      const label = labelHere(pool);
      const currentImage = await runtime.imageId(pool.image);
      const unusable: string[] = [];
      for (const slot of slots) {
        const state = await runtime.inspect(slot.containerId);
        const tooOld = Date.now() - slot.readyAt > pool.maxAgeSeconds * 1000;
        // An upgrade rebuilt the image: the container's session files or policies may differ.
        const outdated = currentImage !== null && state?.imageId !== currentImage;
        if (!state?.running || tooOld || outdated) unusable.push(slot.sessionId);
      }
      const listed = new Set(slots.map((s) => s.sessionId));
      const unlisted = (await runtime.listManaged())
        .filter((c) => c.pool === label && !listed.has(c.sessionId) && Date.now() - c.createdAt > POOL_ORPHAN_AGE_MS)
        .map((c) => c.sessionId);
      return { unusable, unlisted };
    },
  };
}
