/**
 * The node registry on both supported databases (SQLite, and a real PostgreSQL server started for
 * the test): registration, admins' state changes, and placements that never overbook a node
 * under concurrency, released exactly once.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseConfig } from '../../core/config.js';
import { migrateToLatest, openDatabase, type Database } from '../../core/db/orm.js';
import { createNodeKey, readNodeCertificateRequest } from '../../core/node-identity.js';
import { MAX_PENDING_NODES, NodeRegistry, type NodeCapacity, type PlacementRequest } from '../../core/node-registry.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

let tmp: string;
let pg: TestPostgres;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'hs-nodes-'));
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const drivers: Array<[string, () => DatabaseConfig, number]> = [
  // SQLite: one handle (one process's connection, whose transactions queue); PostgreSQL: four,
  // as four processes placing at once.
  ['sqlite', () => ({ driver: 'sqlite', path: path.join(tmp, `${randomUUID()}.sqlite`), url: undefined }), 1],
  ['postgresql', () => ({ driver: 'postgresql', path: '', url: pg.url }), 4],
];

const capacity = (c: Partial<NodeCapacity> = {}): NodeCapacity => ({ memoryMb: 8192, cpus: 8, maxSessions: 10, ...c });
const request = (r: Partial<PlacementRequest> = {}): PlacementRequest => ({
  sessionId: randomUUID(),
  memoryMb: 1024,
  cpus: 1,
  labels: {},
  strategy: 'binpack',
  preferred: [],
  aliveSince: new Date(Date.now() - 30_000),
  ...r,
});

describe.each(drivers)('%s', (_driver, dbConfig, handles) => {
  let dbs: Database[];
  let registry: NodeRegistry;
  // The PostgreSQL database is shared by the tests of this file: every node name is new.
  const name = (n: string) => `${n}-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    const cfg = dbConfig();
    dbs = [];
    for (let i = 0; i < handles; i++) {
      const db = await openDatabase(cfg);
      await migrateToLatest(db, cfg.driver);
      dbs.push(db);
    }
    registry = new NodeRegistry(dbs[0]!);
  });
  afterAll(async () => {
    await Promise.all(dbs.map((db) => db.close()));
  });

  it('enters a new node active, and updates a known one without changing an admin’s decision', async () => {
    const id = name('n');
    const first = await registry.register({ id, labels: { region: 'eu' }, capacity: capacity() });
    expect(first).toMatchObject({ id, state: 'active', labels: { region: 'eu' }, capacity: { memoryMb: 8192, cpus: 8, maxSessions: 10 }, reserved: { memoryMb: 0, cpus: 0, sessions: 0 } });
    expect(await registry.act(id, 'revoke')).toMatchObject({ ok: true, node: { state: 'revoked' } });
    const again = await registry.register({ id, labels: { region: 'us' }, capacity: capacity({ memoryMb: 4096 }) });
    expect(again).toMatchObject({ state: 'revoked', labels: { region: 'us' }, capacity: { memoryMb: 4096 } });
    expect(await registry.heartbeat(id)).toBe('revoked');
    expect(await registry.heartbeat(name('unknown'))).toBeNull();
  });

  it('allows each admin action only from its states', async () => {
    const id = name('n');
    await registry.register({ id, labels: {}, capacity: capacity() });
    expect(await registry.act(id, 'approve')).toEqual({ ok: false, reason: 'invalid_transition', state: 'active' });
    expect(await registry.act(id, 'drain')).toMatchObject({ ok: true, node: { state: 'draining' } });
    expect(await registry.act(id, 'approve')).toMatchObject({ ok: true, node: { state: 'active' } });
    expect(await registry.act(id, 'revoke')).toMatchObject({ ok: true, node: { state: 'revoked' } });
    expect(await registry.act(id, 'drain')).toEqual({ ok: false, reason: 'invalid_transition', state: 'revoked' });
    expect(await registry.act(name('nobody'), 'drain')).toEqual({ ok: false, reason: 'not_found' });
  });

  it('never overbooks a node when many placements race, and releases each once', async () => {
    const id = name('full');
    await registry.register({ id, labels: { pool: id }, capacity: capacity({ maxSessions: 5, memoryMb: 100_000 }) });
    const requests = Array.from({ length: 20 }, () => request({ labels: { pool: id }, memoryMb: 1000, cpus: 0.5 }));
    const placed = await Promise.all(requests.map((r, i) => new NodeRegistry(dbs[i % dbs.length]!).place(r)));
    expect(placed.filter((p) => p === id)).toHaveLength(5);
    expect(placed.filter((p) => p === null)).toHaveLength(15);
    expect((await registry.get(id))?.reserved).toEqual({ memoryMb: 5000, cpus: 2.5, sessions: 5 });
    const holders = requests.filter((_r, i) => placed[i] === id).map((r) => r.sessionId);
    expect(await registry.sessionsOn(id)).toEqual([...holders].sort());

    // A retried placement of a placed session gets its node again, reserving nothing more.
    expect(await registry.place(requests[placed.indexOf(id)]!)).toBe(id);
    expect((await registry.get(id))?.reserved.sessions).toBe(5);

    const released = await Promise.all([...holders, ...holders].map((s, i) => new NodeRegistry(dbs[i % dbs.length]!).release(s)));
    expect(released.filter(Boolean)).toHaveLength(5);
    expect((await registry.get(id))?.reserved).toEqual({ memoryMb: 0, cpus: 0, sessions: 0 });
    expect(await registry.sessionsOn(id)).toEqual([]);
  });

  it('places by free memory (bin-packing or spread), labels, preference, state and liveness', async () => {
    const group = name('g');
    const [big, small, gpu] = [name('big'), name('small'), name('gpu')];
    await registry.register({ id: big, labels: { group }, capacity: capacity({ memoryMb: 16_384 }) });
    await registry.register({ id: small, labels: { group }, capacity: capacity({ memoryMb: 4096 }) });
    await registry.register({ id: gpu, labels: { group, gpu: 'true' }, capacity: capacity({ memoryMb: 8192 }) });

    // Where the API looks for a warm container: the same order, without reserving anything.
    const { sessionId: _unused, preferred: _none, ...demand } = request({ labels: { group } });
    expect(await registry.placementOrder(demand)).toEqual([small, gpu, big]);
    expect(await registry.placementOrder({ ...demand, strategy: 'spread' })).toEqual([big, gpu, small]);
    expect(await registry.placementOrder({ ...demand, labels: { group, gpu: 'true' } })).toEqual([gpu]);
    expect(await registry.placementOrder({ ...demand, memoryMb: 6000 })).toEqual([gpu, big]);

    // Bin-packing: the node with the least free memory that fits, until it is full.
    expect(await registry.place(request({ labels: { group } }))).toBe(small);
    expect(await registry.place(request({ labels: { group }, memoryMb: 3072 }))).toBe(small);
    expect(await registry.place(request({ labels: { group } }))).toBe(gpu);
    // Spread: the most free memory.
    expect(await registry.place(request({ labels: { group }, strategy: 'spread' }))).toBe(big);
    // A label constraint; a preferred node (a warm container there) first.
    expect(await registry.place(request({ labels: { group, gpu: 'true' } }))).toBe(gpu);
    expect(await registry.place(request({ labels: { group }, preferred: [big] }))).toBe(big);
    // Nothing fits: too large, or a label nobody has.
    expect(await registry.place(request({ labels: { group }, memoryMb: 20_000 }))).toBeNull();
    expect(await registry.place(request({ labels: { group, gpu: 'false' } }))).toBeNull();

    // A draining node gets nothing; neither does one not heard from since the cut-off.
    await registry.act(gpu, 'drain');
    expect(await registry.place(request({ labels: { group, gpu: 'true' } }))).toBeNull();
    await registry.act(gpu, 'approve');
    expect(await registry.place(request({ labels: { group, gpu: 'true' }, aliveSince: new Date(Date.now() + 60_000) }))).toBeNull();
  });

  it('marks lost the nodes in service that went silent, and takes a lost node back when it registers', async () => {
    const [silent, alive, pending] = [name('silent'), name('alive'), name('revoked')];
    const longAgo = new Date(Date.now() - 120_000);
    await registry.register({ id: silent, labels: {}, capacity: capacity() }, longAgo);
    await registry.register({ id: alive, labels: {}, capacity: capacity() });
    await registry.register({ id: pending, labels: {}, capacity: capacity() }, longAgo);
    await registry.act(pending, 'revoke');
    // Enrolled and approved, never heard from yet: not lost (and never placed on, see above).
    const approved = name('approved');
    const key = await readNodeCertificateRequest((await createNodeKey(approved)).csrPem);
    expect((await registry.enrol({ id: approved, labels: {}, capacity: capacity(), publicKeySpki: key.publicKeySpki, fingerprint: key.fingerprint })).ok).toBe(true);
    await registry.act(approved, 'approve');
    const lost = await registry.markLost(new Date(Date.now() - 30_000));
    expect(lost).toContain(silent);
    expect(lost).not.toContain(alive);
    expect(lost).not.toContain(pending);
    expect(lost).not.toContain(approved);
    expect((await registry.get(approved))?.state).toBe('active');
    expect((await registry.get(silent))?.state).toBe('lost');
    expect(await registry.markLost(new Date(Date.now() - 30_000))).not.toContain(silent);
    expect((await registry.register({ id: silent, labels: {}, capacity: capacity() })).state).toBe('active');
  });
  it('enrols a node pending under its key: the same key again is a retry, another key is refused, and so is one enrolment too many', async () => {
    const id = name('edge');
    const enrolment = async (nodeId: string) => {
      const key = await readNodeCertificateRequest((await createNodeKey(nodeId)).csrPem);
      return { id: nodeId, labels: { site: 'home' }, capacity: capacity(), publicKeySpki: key.publicKeySpki, fingerprint: key.fingerprint };
    };
    const mine = await enrolment(id);
    // Two at once, as a retried request can be: one row, both answered with it.
    const [a, b] = await Promise.all([registry.enrol(mine), registry.enrol(mine)]);
    expect([a.ok && a.created, b.ok && b.created].filter(Boolean)).toHaveLength(1);
    expect(a.ok && a.node).toMatchObject({ id, state: 'pending', fingerprint: mine.fingerprint, lastHeartbeatAt: null });
    expect(await registry.identity(id)).toMatchObject({ state: 'pending', fingerprint: mine.fingerprint });
    expect(await registry.enrol(await enrolment(id))).toEqual({ ok: false, reason: 'name_taken' });
    // A node installed with database access has no key: its name cannot be taken by an enrolment.
    const installed = name('installed');
    await registry.register({ id: installed, labels: {}, capacity: capacity() });
    expect(await registry.enrol(await enrolment(installed))).toEqual({ ok: false, reason: 'name_taken' });
    expect(await registry.identity(installed)).toBeNull();
    // The pending ones are capped.
    const pendingNow = (await registry.list()).filter((n) => n.state === 'pending').length;
    for (let i = pendingNow; i < MAX_PENDING_NODES; i++) expect((await registry.enrol(await enrolment(name(`p${i}`)))).ok).toBe(true);
    expect(await registry.enrol(await enrolment(name('one-too-many')))).toEqual({ ok: false, reason: 'too_many_pending' });
    for (const n of (await registry.list()).filter((n) => n.state === 'pending')) await registry.act(n.id, 'revoke');
  });
});
