/**
 * Migrations and the session projection on both supported databases: SQLite (the default) and
 * PostgreSQL (a real server started for the test).
 */
import { RefreshTokens } from '../../api/auth/refresh-tokens.js';
import { decodePageCursor } from '../../core/page-cursor.js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionRows } from '../../core/session-rows.js';
import { UserDirectory } from '../../api/users/user-directory.js';
import type { DatabaseConfig } from '../../core/config.js';
import { Session, User } from '../../core/db/entities.js';
import { migrations as postgresqlMigrations } from '../../core/db/migrations/postgresql/index.js';
import { migrations as sqliteMigrations } from '../../core/db/migrations/sqlite/index.js';
import { migrateToLatest, openDatabase } from '../../core/db/orm.js';
import type { SessionSnapshot } from '../../workflows/messages.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

function snapshot(overrides: Partial<SessionSnapshot> = {}): SessionSnapshot {
  const now = Date.now();
  return {
    sessionId: randomUUID(),
    userId: randomUUID(),
    app: 'firefox',
    state: 'provisioning',
    reason: null,
    message: null,
    url: 'https://example.com/',
    quality: 'auto',
    container: null,
    requestedAt: now,
    startedAt: now,
    readyAt: null,
    attachedAt: null,
    lastActivityAt: null,
    endedAt: null,
    ...overrides,
  };
}

let tmp: string;
let pg: TestPostgres;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'hs-db-'));
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const drivers: Array<[string, () => DatabaseConfig]> = [
  ['sqlite', () => ({ driver: 'sqlite', path: path.join(tmp, `${randomUUID()}.sqlite`), url: undefined })],
  ['postgresql', () => ({ driver: 'postgresql', path: '', url: pg.url })],
];

describe.each(drivers)('%s', (driver, dbConfig) => {
  it('applies the migrations once; a second run is a no-op', async () => {
    const cfg = dbConfig();
    const db = await openDatabase(cfg);
    try {
      const first = await migrateToLatest(db, cfg.driver);
      const second = await migrateToLatest(db, cfg.driver);
      // PostgreSQL is shared by the tests of this file: another test may have migrated it first.
      const all = (cfg.driver === 'sqlite' ? sqliteMigrations : postgresqlMigrations).map((m) => m.name);
      if (driver === 'sqlite') expect(first).toEqual(all);
      expect(second).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('survives several processes migrating at the same time', async () => {
    const cfg = dbConfig();
    const dbs = await Promise.all([1, 2, 3, 4].map(() => openDatabase(cfg)));
    try {
      const applied = (await Promise.all(dbs.map((db) => migrateToLatest(db, cfg.driver)))).flat();
      // Each migration ran at most once, whichever process ran it.
      expect(new Set(applied).size).toBe(applied.length);
      if (driver === 'sqlite') expect(applied.sort()).toEqual(sqliteMigrations.map((m) => m.name).sort());
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });

  it('keeps existing accounts when it upgrades an older schema', async () => {
    if (driver !== 'sqlite') return; // the shared PostgreSQL database is already at the latest schema
    const cfg = dbConfig();
    const db = await openDatabase(cfg);
    try {
      const [first, ...later] = sqliteMigrations.map((m) => m.name);
      await db.migrator.up({ to: first });
      const id = randomUUID();
      await db.em.getConnection().execute(
        "insert into users (id, username, password_hash, role, disabled, created_at, updated_at) values (?, 'old-admin', 'x', 'admin', 0, 0, 0)",
        [id],
      );
      expect(await migrateToLatest(db, cfg.driver)).toEqual(later);
      const user = await db.em.fork().findOneOrFail(User, { id });
      expect(user).toMatchObject({ username: 'old-admin', role: 'admin', tokenVersion: 0, quota: null });
    } finally {
      await db.close();
    }
  });

  it('gives each node’s session monitor the running sessions placed on it, and those placed before nodes existed', async () => {
    const cfg = dbConfig();
    const db = await openDatabase(cfg);
    try {
      await migrateToLatest(db, cfg.driver);
      const store = new SessionRows(db);
      const node = `n-${randomUUID().slice(0, 8)}`;
      const running = (extra: Partial<SessionSnapshot>) => snapshot({ state: 'active', readyAt: Date.now(), container: { id: randomUUID().replace(/-/g, ''), name: 'c', ip: '172.31.0.3' }, ...extra });
      const [mine, others, older, ended] = [running({ node }), running({ node: `${node}-other` }), running({}), running({ node, state: 'stopped', endedAt: Date.now() })];
      for (const s of [mine, others, older, ended]) await store.record(s);
      const watched = (await store.watchable(node)).map((w) => w.sessionId);
      expect(watched).toContain(mine.sessionId);
      expect(watched).toContain(older.sessionId);
      expect(watched).not.toContain(others.sessionId);
      expect(watched).not.toContain(ended.sessionId);
      expect((await store.find(mine.sessionId))?.node).toBe(node);
    } finally {
      await db.close();
    }
  });

  it('records a session projection by upsert and keeps the latest state', async () => {
    const cfg = dbConfig();
    const db = await openDatabase(cfg);
    try {
      await migrateToLatest(db, cfg.driver);
      const store = new SessionRows(db);
      const s = snapshot();
      const liveBefore = await store.countLive();
      expect(await store.record(s)).toBe(false); // not an end
      expect(await store.record(s)).toBe(false); // a retried activity writes the same thing again
      const ready = { ...s, state: 'ready' as const, readyAt: Date.now(), container: { id: 'c'.repeat(64), name: 'hackstream-session-x', ip: '172.31.0.2' } };
      expect(await store.record(ready)).toBe(false);
      const rows = await db.em.fork().find(Session, { id: s.sessionId });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ state: 'ready', containerIp: '172.31.0.2', containerName: 'hackstream-session-x', userId: s.userId });
      expect(rows[0]!.readyAt?.getTime()).toBe(ready.readyAt);
      expect((await store.countLive()).ready).toBe(liveBefore.ready + 1);

      // The end is reported once: by the write that made the row final, not by its retry.
      const stopped = { ...ready, state: 'stopped' as const, reason: 'user_stop' as const, endedAt: Date.now() };
      expect(await store.record(stopped)).toBe(true);
      expect(await store.record(stopped)).toBe(false);
      expect(await store.countLive()).toEqual(liveBefore);
    } finally {
      await db.close();
    }
  });

  it('reserves a session row, gives it back, and reads rows back as the snapshots written', async () => {
    const cfg = dbConfig();
    const db = await openDatabase(cfg);
    try {
      await migrateToLatest(db, cfg.driver);
      const rows = new SessionRows(db);
      const userId = randomUUID();
      const base = { userId, app: 'firefox' as const, url: null, quality: 'auto' as const };
      const first = { ...base, sessionId: randomUUID(), requestedAt: Date.now() - 1000 };
      const second = { ...base, sessionId: randomUUID(), requestedAt: Date.now() };
      await rows.reserve(first);
      await rows.reserve(second);
      expect(await rows.countLiveOf(userId)).toBe(2);
      expect(await rows.find(first.sessionId)).toMatchObject({ ...first, state: 'provisioning', reason: null, container: null, endedAt: null });
      const ids = (page: { sessions: Array<{ sessionId: string }> }) => page.sessions.map((r) => r.sessionId);
      expect(ids(await rows.list({ userId, limit: 10 }))).toEqual([second.sessionId, first.sessionId]);
      // Pages: the cursor of the first page leads to the rest, and the last page has none.
      const page1 = await rows.list({ userId, limit: 1 });
      expect(ids(page1)).toEqual([second.sessionId]);
      expect(page1.nextCursor).not.toBeNull();
      const page2 = await rows.list({ userId, limit: 1, cursor: decodePageCursor(page1.nextCursor!)! });
      expect(ids(page2)).toEqual([first.sessionId]);
      expect(page2.nextCursor).toBeNull();
      expect(ids(await rows.list({ userId, limit: 10, state: 'live', app: 'firefox' }))).toEqual([second.sessionId, first.sessionId]);
      expect(ids(await rows.list({ userId, limit: 10, state: 'ready' }))).toEqual([]);

      await rows.failReservation(first.sessionId, 'could not start the session workflow');
      expect(await rows.find(first.sessionId)).toMatchObject({ state: 'failed', reason: 'provision_failed', message: 'could not start the session workflow' });
      expect(await rows.liveOf(userId)).toEqual([second.sessionId]);
      expect(await rows.live([first.sessionId, second.sessionId, randomUUID()])).toEqual(new Set([second.sessionId]));

      // A reservation the workflow already owns is not given back.
      const running = { ...(await rows.find(second.sessionId))!, state: 'ready' as const, readyAt: second.requestedAt + 250, start: 'warm' as const };
      await rows.record(running);
      expect(await rows.find(second.sessionId)).toMatchObject({ start: 'warm' });
      expect(ids(await rows.list({ userId, limit: 10, state: 'live' }))).toEqual([second.sessionId]);
      expect(ids(await rows.list({ userId, limit: 10, state: 'failed' }))).toEqual([first.sessionId]);
      expect(await rows.startLatencies(new Date(second.requestedAt - 60_000))).toEqual([{ start: 'warm', app: 'firefox', quality: 'auto', ms: 250 }]);
      await rows.failReservation(second.sessionId, 'late');
      expect(await rows.find(second.sessionId)).toMatchObject({ state: 'ready', readyAt: running.readyAt, message: null });
      expect(await rows.find(randomUUID())).toBeNull();
    } finally {
      await db.close();
    }
  });

  it('takes a spent refresh token again only within the retry window, and only while its successor is unused', async () => {
    const cfg = dbConfig();
    const db = await openDatabase(cfg);
    try {
      await migrateToLatest(db, cfg.driver);
      const tokens = new RefreshTokens(db, 3600, 1);
      const userId = randomUUID();
      const first = await tokens.start(userId);
      const second = await tokens.rotate(first.token);
      expect(second.ok).toBe(true);
      // Within the window, its successor unused: a retry of a lost answer.
      const retried = await tokens.rotate(first.token);
      expect(retried.ok).toBe(true);
      // The successor was spent in the retry's place: presenting it is reuse.
      if (!second.ok) throw new Error('unreachable');
      expect(await tokens.rotate(second.next.token)).toMatchObject({ ok: false, reason: 'reused' });
      // A new family: after the window, the spent token is reuse even with its successor unused.
      const other = await tokens.start(userId);
      expect((await tokens.rotate(other.token)).ok).toBe(true);
      await new Promise((r) => setTimeout(r, 1200));
      expect(await tokens.rotate(other.token)).toMatchObject({ ok: false, reason: 'reused' });
      expect(await tokens.familyRevoked(other.familyId)).toBe(true);
    } finally {
      await db.close();
    }
  });

  it('creates the first admin once, and checks passwords', async () => {
    const cfg = dbConfig();
    const db = await openDatabase(cfg);
    try {
      await migrateToLatest(db, cfg.driver);
      const users = new UserDirectory(db);
      const name = `admin-${randomUUID().slice(0, 6)}`;
      // On the shared PostgreSQL database other tests may have created accounts already.
      const created = await users.ensureInitialAdmin(name, 'correct horse battery');
      expect(await users.ensureInitialAdmin(name, 'another password')).toBe(false);
      if (created) {
        expect(await users.verifyCredentials(name, 'correct horse battery')).toMatchObject({ ok: true, user: { username: name, role: 'admin' } });
        expect(await users.verifyCredentials(name, 'another password')).toMatchObject({ ok: false });
      }
      const u = await users.create(`user-${randomUUID().slice(0, 6)}`, 'pw-123456789', 'user');
      expect(await users.findActive(u.id)).toEqual(u);
      await expect(users.create(u.username, 'x', 'user')).rejects.toThrow();
    } finally {
      await db.close();
    }
  });
});
