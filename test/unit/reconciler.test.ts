/**
 * The reconciler's decisions in Temporal's mock activity environment, with in-memory holdings:
 * what a running workflow owns stays, what a closed one left goes at once, what has no workflow
 * goes only after the grace period, and a pool's ready container is the pool's.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it, vi } from 'vitest';
import { KEEP_ALIVE_MS } from '../../activities/keep-alive.js';
import { reconcileActivities, type ReconcileDeps } from '../../activities/reconciler.js';
import type { WorkflowStatus } from '../../activities/session-workflow-status.js';
import type { AuditRecord } from '../../core/audit-log.js';
import type { ReconcileReport, ReconciledKind } from '../../workflows/messages.js';

const GRACE_SECONDS = 120;
const old = () => Date.now() - 10 * 60_000;
const young = () => Date.now() - 5_000;

interface Holding {
  container?: number;
  network?: number;
  route?: number;
  files?: number;
  profile?: number;
  credentials?: boolean;
  row?: number;
  reservation?: number;
}

function world(held: Record<string, Holding>, workflows: Record<string, WorkflowStatus>, opts: { ready?: string[]; leftovers?: number; removal?: Promise<void> } = {}) {
  const removed: string[] = [];
  const finalised: string[] = [];
  const audits: AuditRecord[] = [];
  const counted: Partial<Record<ReconciledKind, number>> = {};
  const ended: string[] = [];
  const released: string[] = [];
  const ids = Object.keys(held);
  const having = (k: keyof Holding) => ids.filter((id) => held[id]![k] !== undefined && removed.indexOf(id) < 0);
  const deps: ReconcileDeps = {
    runtime: {
      listManaged: async () => having('container').map((id) => ({ id: `c-${id}`, sessionId: id, running: true, createdAt: held[id]!.container! })),
      listManagedNetworks: async () => having('network').map((id) => ({ sessionId: id, createdAt: held[id]!.network! })),
      removeSessionContainers: async (id) => {
        await opts.removal;
        removed.push(id);
        return held[id]?.container ? 1 : 0;
      },
      quitApp: async () => true,
    },
    profiles: {
      list: async () => having('profile').map((id) => ({ sessionId: id, since: held[id]!.profile! })),
      isAttached: async (id) => having('profile').includes(id),
      detach: async () => ({ usedMb: 1, capMb: 10 }),
    },
    routes: { list: async () => having('route').map((id) => ({ sessionId: id, since: held[id]!.route! })), collectLeftovers: async () => opts.leftovers ?? 0, remove: async () => undefined },
    files: { list: async () => having('files').map((id) => ({ sessionId: id, since: held[id]!.files! })), collectLeftovers: async () => 0, remove: async () => undefined },
    credentials: { sessionsWithCredentials: async () => having('credentials'), revokeAll: async () => 0 },
    firewall: { close: async () => undefined },
    store: {
      nonFinal: async () =>
        ids.filter((id) => held[id]!.row !== undefined && !finalised.includes(id)).map((id) => ({ sessionId: id, userId: `u-${id}`, state: 'provisioning' as const, requestedAt: held[id]!.row! })),
      finaliseLost: async (id) => {
        finalised.push(id);
        return true;
      },
    },
    nodes: {
      reservations: async () => having('reservation').filter((id) => !released.includes(id)).map((id) => ({ sessionId: id, nodeId: 'node-a', since: held[id]!.reservation! })),
      release: async (id) => {
        released.push(id);
        return true;
      },
    },
    pools: { readySessionIds: async () => new Set(opts.ready ?? []) },
    workflows: { of: async (id) => workflows[id] ?? { status: 'missing' } },
    audit: { record: async (r) => void audits.push(r) },
    metrics: { reconciled: (kind, n) => void (counted[kind] = (counted[kind] ?? 0) + n), sessionEnded: (reason) => void ended.push(reason) },
  };
  const activities = reconcileActivities(deps);
  const heartbeats: unknown[] = [];
  const env = new MockActivityEnvironment();
  env.on('heartbeat', (d: unknown) => void heartbeats.push(d));
  const pass = (): Promise<ReconcileReport> => env.run((input) => activities.reconcileSessions(input), { graceSeconds: GRACE_SECONDS });
  return { pass, removed, finalised, audits, counted, ended, heartbeats, released };
}

describe('the reconciler', () => {
  it('leaves alone what a running workflow owns, however old', async () => {
    const w = world({ live: { container: old(), network: old(), route: old(), files: old(), credentials: true, row: old() } }, { live: { status: 'running' } });
    const report = await w.pass();
    expect(report).toEqual({ sessions: 1, reconciled: 0, removed: {} });
    expect(w.removed).toEqual([]);
    expect(w.finalised).toEqual([]);
  });

  it('removes at once everything a terminated workflow left, ends its row, and audits and counts each kind', async () => {
    const w = world(
      { gone: { container: young(), network: young(), route: young(), files: young(), profile: young(), credentials: true, row: young(), reservation: young() } },
      { gone: { status: 'closed', detail: 'TERMINATED' } },
    );
    const report = await w.pass();
    expect(w.removed).toEqual(['gone']);
    expect(w.released).toEqual(['gone']); // its room on its node, given back after the container went
    expect(w.finalised).toEqual(['gone']);
    expect(w.ended).toEqual(['workflow_lost']); // one session end, with its reason
    expect(report.reconciled).toBe(1);
    expect(report.removed).toEqual({ container: 1, network: 1, route: 1, files: 1, profile: 1, credentials: 1, row: 1, reservation: 1 });
    expect(w.counted).toEqual(report.removed);
    expect(w.audits.map((a) => [a.action, a.targetId, a.userId])).toEqual([
      ['reconcile.session_removed', 'gone', 'u-gone'],
      ['reconcile.session_finalised', 'gone', 'u-gone'],
    ]);
    expect(w.audits[0]!.details).toMatchObject({ why: 'its workflow ended (TERMINATED)' });
  });

  it('gives what has no workflow the grace period (a create in flight), then removes it and frees its row', async () => {
    const w = world(
      {
        inFlight: { row: young() },
        crashed: { row: old() },
        warming: { container: young(), files: old() },
        // A warm container claimed a moment ago, its create's workflow not started yet.
        claimed: { container: old(), network: old(), route: old(), files: old(), row: young() },
        abandoned: { container: old(), network: old() },
      },
      {},
    );
    const report = await w.pass();
    // The newest of a session's parts counts: the claim's fresh row protects the old container.
    expect(w.removed).toEqual(['abandoned']);
    expect(w.finalised).toEqual(['crashed']);
    expect(report.removed).toEqual({ container: 1, network: 1, row: 1 });
  });

  it('never takes a container ready in its pool, and revokes credentials of a session without workflow at once', async () => {
    const w = world({ warm: { container: old(), network: old(), route: old(), files: old() }, revoked: { credentials: true } }, {}, { ready: ['warm'] });
    await w.pass();
    expect(w.removed).toEqual(['revoked']);
  });

  it('finishes what an interrupted pass started: a second pass finds nothing more to do', async () => {
    const w = world({ gone: { container: old(), row: old() } }, { gone: { status: 'closed', detail: 'FAILED' } }, { leftovers: 2 });
    const first = await w.pass();
    expect(first.removed).toEqual({ container: 1, row: 1, leftover: 2 });
    const second = await w.pass();
    expect(second.reconciled).toBe(0);
    expect(w.removed).toEqual(['gone']);
  });

  it('keeps heartbeating while a step is slow (a removal waiting on dockerd), and stops when the pass ends', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      let release!: () => void;
      const w = world({ gone: { container: old() } }, { gone: { status: 'closed', detail: 'TERMINATED' } }, { removal: new Promise((r) => (release = r)) });
      const running = w.pass();
      await vi.waitFor(() => expect(w.heartbeats).toEqual(['gone'])); // the per-session one
      vi.advanceTimersByTime(3 * KEEP_ALIVE_MS);
      expect(w.heartbeats).toHaveLength(4);
      release();
      await running;
      expect(w.removed).toEqual(['gone']);
      vi.advanceTimersByTime(3 * KEEP_ALIVE_MS);
      expect(w.heartbeats).toHaveLength(4);
    } finally {
      vi.useRealTimers();
    }
  });
});
