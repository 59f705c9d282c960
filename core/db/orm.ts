/**
 * Opens the database (SQLite by default, PostgreSQL when configured) and brings its schema up to
 * date with the driver's migrations. Schema sync is never used.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM, type Options, type Transaction } from '@mikro-orm/sql';
import type { DatabaseConfig } from '../config.js';
import { entities } from './entities.js';
import { migrations as postgresqlMigrations } from './migrations/postgresql/index.js';
import { migrations as sqliteMigrations } from './migrations/sqlite/index.js';

export type Database = MikroORM;

/** How long a SQLite write waits for another process's write lock (WAL: readers never wait). */
export const SQLITE_BUSY_TIMEOUT_MS = 250;

/** ORM options for a driver; `migrationsList` keeps migrations working from sources and dist. */
export async function ormOptions(db: DatabaseConfig): Promise<Options> {
  const common = { entities, extensions: [Migrator], debug: false } satisfies Options;
  if (db.driver === 'sqlite') {
    const { SqliteDriver } = await import('@mikro-orm/sqlite');
    if (db.path !== ':memory:') mkdirSync(path.dirname(db.path), { recursive: true });
    return {
      ...common,
      driver: SqliteDriver,
      dbName: db.path,
      // better-sqlite3 waits for another writer's lock synchronously, freezing the process's
      // event loop: the wait is kept short, and a write still locked out after it fails (the API
      // answers 503 dependency_unavailable, an activity is retried) instead of freezing everything.
      driverOptions: { timeout: SQLITE_BUSY_TIMEOUT_MS },
      migrations: { migrationsList: sqliteMigrations, snapshot: false, silent: true },
    };
  }
  const { PostgreSqlDriver } = await import('@mikro-orm/postgresql');
  return {
    ...common,
    driver: PostgreSqlDriver,
    clientUrl: db.url,
    migrations: { migrationsList: postgresqlMigrations, snapshot: false, silent: true },
  };
}

export async function openDatabase(db: DatabaseConfig): Promise<Database> {
  const orm = await MikroORM.init(await ormOptions(db));
  if (db.driver === 'sqlite') {
    // WAL lets the API read while the worker writes (two processes, one file).
    await orm.em.getConnection().execute('pragma journal_mode = wal');
  }
  return orm;
}

const MIGRATION_LOCK_KEY = 0x48537472; // "HStr"

/**
 * Applies pending migrations; a no-op when there are none. Safe when several processes start at
 * once: the MikroORM migrator takes no lock of its own.
 */
export async function migrateToLatest(orm: Database, driver: DatabaseConfig['driver']): Promise<string[]> {
  if (driver === 'postgresql') {
    return orm.em.fork().transactional(async (em) => {
      await em.execute('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
      const transaction: Transaction<unknown> | undefined = em.getTransactionContext<Transaction<unknown>>();
      const done = await orm.migrator.up({ transaction });
      return done.map((m) => m.name);
    });
  }
  // SQLite has one connection per process, so an in-process lock would deadlock the migrator's
  // own queries; a losing process sees "locked"/"already exists", rolls back and retries.
  for (let attempt = 1; ; attempt++) {
    try {
      return (await orm.migrator.up()).map((m) => m.name);
    } catch (err) {
      if (attempt >= 10 || !/database is locked|already exists|SQLITE_BUSY/i.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt + Math.random() * 100));
    }
  }
}
