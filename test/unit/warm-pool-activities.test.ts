/**
 * Pool reconciliation as pool-warming runs from before per-node pools replay it
 * (activities/warm-pool-activities.ts), in Temporal's mock activity environment, with an
 * in-memory ready list and container runtime: which containers stay ready, which are taken back and removed, and which
 * count as orphans.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { poolLabel } from '../../activities/container-labels.js';
import type { ContainerRuntime, ManagedContainer } from '../../activities/docker-session-runtime.js';
import { POOL_ORPHAN_AGE_MS } from '../../activities/warm-containers.js';
import { warmPoolActivities, type WarmPoolDeps } from '../../activities/warm-pool-activities.js';
import type { ListedSlot, NodePoolRef, PoolStore, WarmSlot } from '../../core/pool-store.js';
import type { PoolSpec } from '../../workflows/messages.js';

const TASK_QUEUE = 'tq-test';
const pool: PoolSpec = {
  app: 'firefox',
  quality: 'auto',
  size: 3,
  image: 'img:1',
  resources: { memoryMb: 1024, cpus: 1, shmMb: 256, pidsLimit: 128 },
  readySeconds: 60,
  maxAgeSeconds: 3600,
  certLifetimeSeconds: 86_400,
};
const LABEL = poolLabel(TASK_QUEUE, 'firefox-auto');

/** A ready list in memory with Redis's semantics: a claimed entry can no longer be taken back. */
class MemoryPool implements PoolStore {
  entries: string[] = [];
  async add(_: NodePoolRef, slot: WarmSlot) {
    this.entries.push(JSON.stringify(slot));
  }
  async list(): Promise<ListedSlot[]> {
    return this.entries.map((raw) => ({ raw, slot: JSON.parse(raw) as WarmSlot }));
  }
  async takeBack(_: NodePoolRef, entry: ListedSlot) {
    const i = this.entries.indexOf(entry.raw);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }
}

function world(opts: { running: string[]; managed: ManagedContainer[]; live?: string[]; claimDuringReconcile?: string; oldImage?: string[] }) {
  const pools = new MemoryPool();
  const removed: string[] = [];
  const closed: string[] = [];
  const runtime = {
    inspect: async (id: string) => {
      // A session claims this one while the reconcile looks at the list.
      if (opts.claimDuringReconcile) pools.entries = pools.entries.filter((r) => !r.includes(opts.claimDuringReconcile!));
      const imageId = opts.oldImage?.includes(id) ? 'sha256:before' : 'sha256:now';
      return { id, running: opts.running.includes(id), exitCode: opts.running.includes(id) ? null : 137, imageId };
    },
    imageId: async () => 'sha256:now',
    listManaged: async () => opts.managed,
    removeSessionContainers: async (sessionId: string) => {
      removed.push(sessionId);
      return 1;
    },
  } as unknown as ContainerRuntime;
  const deps = {
    runtime,
    pools,
    store: { live: async (ids: string[]) => new Set(ids.filter((id) => opts.live?.includes(id))) },
    routes: { remove: async () => {}, add: async () => {}, waitUntilLive: async () => {}, list: async () => [] },
    credentials: { revokeAll: async () => 0 },
    firewall: { close: async (sessionId: string) => void closed.push(sessionId) },
    files: { remove: async () => {} },
    // A warm container never has a profile.
    profiles: { isAttached: async () => false, detach: async () => null },
  } as unknown as WarmPoolDeps;
  return { pools, removed, closed, activities: warmPoolActivities(deps) };
}

const slot = (sessionId: string, readyAt = Date.now()): WarmSlot => ({
  sessionId,
  app: 'firefox',
  quality: 'auto',
  containerId: `c-${sessionId}`,
  containerName: `n-${sessionId}`,
  ip: '10.213.0.2',
  readyAt,
});
const managed = (sessionId: string, ageMs: number, label = LABEL): ManagedContainer => ({
  id: `c-${sessionId}`,
  sessionId,
  running: true,
  pool: label,
  createdAt: Date.now() - ageMs,
});

const reconcile = (activities: ReturnType<typeof warmPoolActivities>) =>
  new MockActivityEnvironment({ taskQueue: TASK_QUEUE }).run((p: PoolSpec) => activities.reconcilePool(p), pool);

describe('reconcilePool', () => {
  it('keeps running young containers, removes dead and aged ones from the list and the host', async () => {
    const w = world({ running: ['c-ok', 'c-old'], managed: [] });
    await w.pools.add({ node: 'local', name: 'x', image: 'y' }, slot('ok'));
    await w.pools.add({ node: 'local', name: 'x', image: 'y' }, slot('dead'));
    await w.pools.add({ node: 'local', name: 'x', image: 'y' }, slot('old', Date.now() - 3601_000));
    expect(await reconcile(w.activities)).toEqual({ ready: 1, removed: 2 });
    expect(w.removed.sort()).toEqual(['dead', 'old']);
    expect(w.closed.sort()).toEqual(['dead', 'old']);
    expect((await w.pools.list()).map((e) => e.slot.sessionId)).toEqual(['ok']);
  });

  it('replaces ready containers of an image rebuilt since they started', async () => {
    const w = world({ running: ['c-current', 'c-before'], managed: [], oldImage: ['c-before'] });
    await w.pools.add({ node: 'local', name: 'x', image: 'y' }, slot('current'));
    await w.pools.add({ node: 'local', name: 'x', image: 'y' }, slot('before'));
    expect(await reconcile(w.activities)).toEqual({ ready: 1, removed: 1 });
    expect(w.removed).toEqual(['before']);
    expect((await w.pools.list()).map((e) => e.slot.sessionId)).toEqual(['current']);
  });

  it('leaves a dead slot that a session claimed meanwhile to that session', async () => {
    const w = world({ running: [], managed: [], claimDuringReconcile: 'claimed' });
    await w.pools.add({ node: 'local', name: 'x', image: 'y' }, slot('claimed'));
    expect(await reconcile(w.activities)).toEqual({ ready: 0, removed: 0 });
    expect(w.removed).toEqual([]);
  });

  it("removes this pool's orphans (old enough, not ready, no live session), and nothing of other pools or sessions", async () => {
    const old = POOL_ORPHAN_AGE_MS + 1000;
    const w = world({
      running: ['c-ready'],
      managed: [
        managed('ready', old),
        managed('orphan', old),
        managed('young', 1000),
        managed('claimed', old),
        managed('other-stack', old, poolLabel('another-queue', 'firefox-auto')),
        managed('other-pool', old, poolLabel(TASK_QUEUE, 'firefox-low')),
      ],
      live: ['claimed'],
    });
    await w.pools.add({ node: 'local', name: 'x', image: 'y' }, slot('ready'));
    expect(await reconcile(w.activities)).toEqual({ ready: 1, removed: 1 });
    expect(w.removed).toEqual(['orphan']);
    expect(w.closed).toEqual(['orphan']);
  });
});
