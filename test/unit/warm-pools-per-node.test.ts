/**
 * The warm pools' two halves, each with in-memory stand-ins for what it talks to: on a node
 * (activities/warm-containers.ts, in Temporal's mock activity environment: which of the pool's
 * containers are unusable or unlisted) and on the control queue (activities/warm-pool-ledger.ts:
 * which nodes keep how many, taking slots back before a claim, telling orphans from claimed ones).
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { poolLabel } from '../../activities/container-labels.js';
import type { ContainerRuntime, ManagedContainer } from '../../activities/docker-session-runtime.js';
import { POOL_ORPHAN_AGE_MS, warmContainerActivities, type WarmContainerCheck, type WarmContainerDeps, type WarmSlotOnNode } from '../../activities/warm-containers.js';
import { poolTargets, warmPoolLedgerActivities, type WarmPoolLedgerDeps } from '../../activities/warm-pool-ledger.js';
import type { NodeView } from '../../core/node-registry.js';
import type { ListedSlot, NodePoolRef, PoolStore, WarmSlot } from '../../core/pool-store.js';
import type { PoolSpec } from '../../workflows/messages.js';

const NODE_QUEUE = 'tq-node-beta';
const pool = (size = 2, memoryMb = 1024, cpus = 1): PoolSpec => ({
  app: 'firefox',
  quality: 'auto',
  size,
  image: 'img:1',
  resources: { memoryMb, cpus, shmMb: 256, pidsLimit: 128 },
  readySeconds: 60,
  maxAgeSeconds: 3600,
  certLifetimeSeconds: 86_400,
});

describe('checkWarmContainers (on the node)', () => {
  const check = (runtime: Partial<ContainerRuntime>, slots: WarmSlotOnNode[]): Promise<WarmContainerCheck> =>
    new MockActivityEnvironment({ taskQueue: NODE_QUEUE }).run(
      (input: { pool: PoolSpec; slots: WarmSlotOnNode[] }) => warmContainerActivities({ runtime } as unknown as WarmContainerDeps).checkWarmContainers(input),
      { pool: pool(), slots },
    );
  const managed = (sessionId: string, ageMs: number, label = poolLabel(NODE_QUEUE, 'firefox-auto')): ManagedContainer => ({ id: `c-${sessionId}`, sessionId, running: true, pool: label, createdAt: Date.now() - ageMs });
  const old = POOL_ORPHAN_AGE_MS + 1000;

  it('finds ready slots whose container died, aged or runs an image rebuilt since, and the pool’s containers no slot lists', async () => {
    const runtime = {
      inspect: async (id: string) => (id === 'c-gone' ? null : { id, running: id !== 'c-dead', exitCode: id === 'c-dead' ? 137 : null, pid: 1, imageId: id === 'c-before' ? 'sha256:before' : 'sha256:now' }),
      imageId: async () => 'sha256:now',
      listManaged: async () => [
        managed('ok', old),
        managed('claimed-or-orphan', old),
        managed('young', 1000),
        managed('other-pool', old, poolLabel(NODE_QUEUE, 'firefox-low')),
        managed('other-node', old, poolLabel('tq-node-alpha', 'firefox-auto')),
        { id: 'c-session', sessionId: 'session', running: true, createdAt: Date.now() - old },
      ],
    };
    const slot = (sessionId: string, readyAt = Date.now()) => ({ sessionId, containerId: `c-${sessionId}`, readyAt });
    const result = await check(runtime, [slot('ok'), slot('dead'), slot('gone'), slot('before'), slot('aged', Date.now() - 3601_000)]);
    expect(result.unusable.sort()).toEqual(['aged', 'before', 'dead', 'gone']);
    expect(result.unlisted).toEqual(['claimed-or-orphan']);
  });
});

/** A ready list in memory with Redis's semantics, per node: a claimed entry can no longer be taken back. */
class MemoryPools implements PoolStore {
  lists = new Map<string, string[]>();
  private of(ref: NodePoolRef) {
    const key = `${ref.node}/${ref.name}/${ref.image}`;
    if (!this.lists.has(key)) this.lists.set(key, []);
    return this.lists.get(key)!;
  }
  async add(ref: NodePoolRef, slot: WarmSlot) {
    this.of(ref).push(JSON.stringify(slot));
  }
  async list(ref: NodePoolRef): Promise<ListedSlot[]> {
    return this.of(ref).map((raw) => ({ raw, slot: JSON.parse(raw) as WarmSlot }));
  }
  async takeBack(ref: NodePoolRef, entry: ListedSlot) {
    const list = this.of(ref);
    const i = list.indexOf(entry.raw);
    if (i < 0) return false;
    list.splice(i, 1);
    return true;
  }
  claim(ref: NodePoolRef) {
    return this.of(ref).shift();
  }
}

const node = (id: string, over: Partial<NodeView> = {}): NodeView => ({
  id,
  labels: {},
  state: 'active',
  capacity: { memoryMb: 8192, cpus: 4, maxSessions: 10 },
  reserved: { memoryMb: 0, cpus: 0, sessions: 0 },
  lastHeartbeatAt: Date.now(),
  fingerprint: null,
  tunnelPort: null,
  createdAt: 0,
  ...over,
});

function ledger(nodes: NodeView[], live: string[] = ['claimed']) {
  const pools = new MemoryPools();
  const deps: WarmPoolLedgerDeps = {
    pools,
    store: { live: async (ids: string[]) => new Set(ids.filter((id) => live.includes(id))) },
    nodes: { list: async () => nodes },
    placement: { aliveWithinSeconds: 30 },
  };
  return { pools, activities: warmPoolLedgerActivities(deps) };
}

const slot = (sessionId: string, node: string): WarmSlot => ({ sessionId, app: 'firefox', quality: 'auto', containerId: `c-${sessionId}`, containerName: `n-${sessionId}`, ip: '10.213.0.2', readyAt: Date.now(), node });

describe('the pools’ ledger (on the control queue)', () => {
  it('warms on a node only what would still leave room for a session from it', () => {
    expect(poolTargets(node('a'), [pool(2)])).toEqual([2]);
    // One session slot left: one container, shared by the pools in their order.
    expect(poolTargets(node('a', { reserved: { memoryMb: 0, cpus: 0, sessions: 9 } }), [pool(2), pool(1)])).toEqual([1, 0]);
    // Memory for one more session of 1 GiB, CPU for two.
    expect(poolTargets(node('a', { reserved: { memoryMb: 7000, cpus: 2, sessions: 3 } }), [pool(3)])).toEqual([1]);
    expect(poolTargets(node('a', { reserved: { memoryMb: 0, cpus: 3.5, sessions: 0 } }), [pool(3)])).toEqual([0]);
    expect(poolTargets(node('a', { reserved: { memoryMb: 0, cpus: 3, sessions: 0 } }), [pool(3)])).toEqual([1]);
  });

  it('keeps the pools of active nodes heard from, drops a draining node’s, forgets a lost or revoked one’s', async () => {
    const { activities } = ledger([
      node('alpha'),
      node('beta', { capacity: { memoryMb: 8192, cpus: 4, maxSessions: 1 } }),
      node('silent', { lastHeartbeatAt: Date.now() - 60_000 }),
      node('never', { lastHeartbeatAt: null }),
      node('draining', { state: 'draining' }),
      node('lost', { state: 'lost' }),
      node('revoked', { state: 'revoked' }),
      node('pending', { state: 'pending' }),
    ]);
    expect(await activities.poolNodes({ pools: [pool(2)] })).toEqual([
      { node: 'alpha', action: 'keep', targets: [2] },
      { node: 'beta', action: 'keep', targets: [1] },
      { node: 'draining', action: 'drop' },
      { node: 'lost', action: 'forget' },
      { node: 'revoked', action: 'forget' },
    ]);
  });

  it('keeps each node’s slots apart, and takes back only what nobody claimed; unlisted containers go only when their session is not live', async () => {
    const { pools, activities } = ledger([]);
    const p = pool();
    for (const [id, n] of [['a1', 'alpha'], ['b1', 'beta'], ['b2', 'beta'], ['b3', 'beta']] as const) await activities.offerWarmSlot({ node: n, pool: p, slot: slot(id, n) });
    expect((await activities.listWarmSlots({ node: 'beta', pool: p })).map((s) => s.sessionId)).toEqual(['b1', 'b2', 'b3']);
    // b1 is claimed by a session between the run's look and its take-back.
    pools.claim({ node: 'beta', name: 'firefox-auto', image: p.image });
    const removable = await activities.takeBackWarmSlots({ node: 'beta', pool: p, sessionIds: ['b1', 'b2'], unlisted: ['orphan', 'claimed'] });
    expect(removable).toEqual(['b2', 'orphan']);
    expect((await activities.listWarmSlots({ node: 'beta', pool: p })).map((s) => s.sessionId)).toEqual(['b3']);
    // All of a node's, for a drain; another node's stay.
    expect(await activities.takeBackWarmSlots({ node: 'beta', pool: p, sessionIds: null })).toEqual(['b3']);
    expect((await activities.listWarmSlots({ node: 'alpha', pool: p })).map((s) => s.sessionId)).toEqual(['a1']);
  });
});
