/**
 * Keeps the pools of pre-warmed containers full, one set of pools per session node. Run by a
 * Temporal Schedule every HACKSTREAM_POOL_INTERVAL_SECONDS (one run at a time, one more buffered)
 * and triggered at once whenever the API claims a container. Per node and pool: drop what died or
 * aged, then warm what is missing, in parallel; a draining node's pools are removed, a lost or
 * revoked node's forgotten. Warm containers are single-use: a claimed one never comes back.
 *
 * A node's part (its key, its container) runs on the node's task queue; the control queue
 * certifies the key, routes the container and keeps the ready list: a node keeps a pool with
 * neither Redis nor the CA nor the ingress's routes, as an edge node has none of them.
 */
import { ActivityFailure, TimeoutFailure, log, patched, proxyActivities, sleep, uuid4, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { PoolNode } from '../activities/warm-pool-ledger.js';
import { nodeTaskQueue, poolName, type PoolSpec, type PoolWarmerInput, type WarmSlot } from './messages.js';

type Activities = ReturnType<typeof createActivities>;

const { reconcilePool } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  // The schedule starts no run while this one is open: a run whose worker died must time out
  // soon (the activity heartbeats every few seconds, activities/keep-alive.ts).
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
});

/**
 * How long a run waits before looking at the pools. Every claim triggers a run, and starting
 * containers (networks, container starts, Firefox's start-up) competes for dockerd and the CPU
 * with the claims still in progress: waiting lets a burst of claims finish first (measured in
 * bench/results/design-measurements.md), and its refill then warms all the missing containers in
 * one run.
 */
export const REFILL_SETTLE = '3 seconds';

export async function PoolWarmerWorkflow(input: PoolWarmerInput): Promise<{ warmed: number; removed: number }> {
  // Runs started by workers from before the pause replay without it.
  if (patched('pool-refill-settle')) await sleep(REFILL_SETTLE);
  // Runs started before pools were kept per node replay the one pool of the control queue's host.
  if (patched('per-node-pools')) return keepNodePools(input);
  let warmed = 0;
  let removed = 0;
  await Promise.all(
    input.pools.map(async (pool) => {
      const { warmContainer } = proxyActivities<Activities>({
        startToCloseTimeout: `${pool.readySeconds + 60}s`,
        heartbeatTimeout: '30s',
        // A failed warm-up is retried by the next run, not here: the schedule is the retry loop.
        retry: { maximumAttempts: 1 },
      });
      const state = await reconcilePool(pool);
      removed += state.removed;
      const missing = Math.max(0, pool.size - state.ready);
      const results = await Promise.allSettled(Array.from({ length: missing }, () => warmContainer(pool)));
      for (const r of results) {
        if (r.status === 'fulfilled') warmed++;
        else log.warn('warming a container failed', { pool: poolName(pool.app, pool.quality), error: String(r.reason) });
      }
    }),
  );
  return { warmed, removed };
}

// The control queue's part: brief reads and writes of the registry, Redis and the CA.
const ledger = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
});

/**
 * How long a node's part may take in all, waiting for its worker included: a node that stopped
 * polling must not hold the run (and so every other node's refill) for long. Its work is
 * left for the next run.
 */
const NODE_CHECK_DEADLINE = '1 minute';

/** The node's part of one run, on the node's own queue. */
function nodeActivities(node: string, options: ActivityOptions) {
  return proxyActivities<Activities>({ ...options, taskQueue: nodeTaskQueue(workflowInfo().taskQueue, node) });
}

async function keepNodePools(input: PoolWarmerInput): Promise<{ warmed: number; removed: number }> {
  const totals = { warmed: 0, removed: 0 };
  const nodes = await ledger.poolNodes({ pools: input.pools });
  await Promise.all(
    nodes.flatMap((node) =>
      input.pools.map(async (pool, i) => {
        const done = await keepOnePool(node, pool, node.action === 'keep' ? (node.targets[i] ?? 0) : 0);
        totals.warmed += done.warmed;
        totals.removed += done.removed;
      }),
    ),
  );
  return totals;
}

async function keepOnePool(node: PoolNode, pool: PoolSpec, target: number): Promise<{ warmed: number; removed: number }> {
  const name = poolName(pool.app, pool.quality);
  if (node.action === 'forget') {
    // Nobody may claim what a node that is gone runs; its routes go now, its containers when it is back.
    const forgotten = await ledger.takeBackWarmSlots({ node: node.node, pool, sessionIds: null });
    for (const sessionId of forgotten) await closeDoors(sessionId);
    return { warmed: 0, removed: forgotten.length };
  }
  if (node.action === 'drop') {
    const dropped = await ledger.takeBackWarmSlots({ node: node.node, pool, sessionIds: null });
    await Promise.all(dropped.map((sessionId) => removeWarm(node.node, sessionId)));
    return { warmed: 0, removed: dropped.length };
  }
  const slots = await ledger.listWarmSlots({ node: node.node, pool });
  const check = await nodeActivities(node.node, { startToCloseTimeout: '30 seconds', scheduleToCloseTimeout: NODE_CHECK_DEADLINE, retry: { maximumAttempts: 2 } }).checkWarmContainers({
    pool,
    slots: slots.map((s) => ({ sessionId: s.sessionId, containerId: s.containerId, readyAt: s.readyAt })),
  });
  const removable = check.unusable.length + check.unlisted.length === 0 ? [] : await ledger.takeBackWarmSlots({ node: node.node, pool, sessionIds: check.unusable, unlisted: check.unlisted });
  await Promise.all(removable.map((sessionId) => removeWarm(node.node, sessionId)));
  const usable = slots.filter((s) => !check.unusable.includes(s.sessionId));
  // A pool made smaller, or filled by a run of its earlier size still in flight when its worker
  // restarted, gives its oldest back. Runs from before this replay without it.
  const excess = usable.length > target && patched('pools-trimmed-to-size') ? usable.toSorted((a, b) => a.readyAt - b.readyAt).slice(0, usable.length - target) : [];
  const trimmed = excess.length === 0 ? [] : await ledger.takeBackWarmSlots({ node: node.node, pool, sessionIds: excess.map((s) => s.sessionId) });
  await Promise.all(trimmed.map((sessionId) => removeWarm(node.node, sessionId)));
  const ready = usable.length - trimmed.length;
  const missing = Math.max(0, target - ready);
  const results = await Promise.allSettled(Array.from({ length: missing }, () => warmOne(node.node, pool)));
  let warmed = 0;
  for (const r of results) {
    if (r.status === 'fulfilled') warmed++;
    else log.warn('warming a container failed', { node: node.node, pool: name, error: String(r.reason) });
  }
  return { warmed, removed: removable.length + trimmed.length };
}

/**
 * One container for the node's pool, for a session id of its own: its key made on the node and
 * certified here (without the session's token key: it admits nobody until claimed), the
 * container up on about:blank, its routes live, then offered in the node's ready list.
 */
async function warmOne(node: string, pool: PoolSpec): Promise<WarmSlot> {
  const sessionId = uuid4();
  const onNode = nodeActivities(node, { startToCloseTimeout: '1 minute', scheduleToCloseTimeout: NODE_CHECK_DEADLINE, retry: { initialInterval: '1s', maximumAttempts: 3 } });
  const starter = nodeActivities(node, {
    startToCloseTimeout: `${pool.readySeconds + 60}s`,
    scheduleToCloseTimeout: `${pool.readySeconds + 120}s`,
    heartbeatTimeout: '30s',
    // A failed warm-up is retried by the next run, not here: the schedule is the retry loop.
    retry: { maximumAttempts: 1 },
  });
  try {
    const { publicKeySpki } = await onNode.createSessionKey({ sessionId });
    // Valid from a minute ago: the clocks of the clients that will verify it may lag ours.
    const signed = await ledger.signSessionCertificate({ sessionId, publicKeySpki, notBefore: Date.now() - 60_000, lifetimeSeconds: pool.certLifetimeSeconds });
    await onNode.installSessionCertificate({ sessionId, certPem: signed.certPem });
    const container = await starter.startWarmContainer({ pool, sessionId });
    await ledger.addSessionRoutes({ sessionId, containerIp: container.ip, node });
    const slot: WarmSlot = { sessionId, app: pool.app, quality: pool.quality, containerId: container.id, containerName: container.name, ip: container.ip, readyAt: Date.now(), node };
    await ledger.offerWarmSlot({ node, pool, slot });
    return slot;
  } catch (err) {
    // A node that did not answer in time is not asked again: its reconciler or the next run's
    // look at its containers removes what is there.
    if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) {
      await closeDoors(sessionId);
      throw err;
    }
    await removeWarm(node, sessionId).catch((removal: unknown) => {
      // Left behind, it is an unlisted container the next run removes (its routes, a leftover of the reconciler).
      log.warn('removing a failed warm-up failed', { node, sessionId, error: removal instanceof ActivityFailure ? String(removal.cause) : String(removal) });
    });
    throw err;
  }
}

/** Closes what the control side holds of a warm container: its routes, then any credentials. */
async function closeDoors(sessionId: string): Promise<void> {
  await ledger.removeSessionRoutes({ sessionId });
  await ledger.revokeSessionCredentials({ sessionId });
}

/** Removes a warm container that is nobody's: the doors first, then everything on its node. */
async function removeWarm(node: string, sessionId: string): Promise<void> {
  await closeDoors(sessionId);
  await nodeActivities(node, { startToCloseTimeout: '1 minute', scheduleToCloseTimeout: NODE_CHECK_DEADLINE, retry: { initialInterval: '1s' } }).removeSession({ sessionId });
}
