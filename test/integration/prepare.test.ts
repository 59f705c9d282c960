/**
 * worker/prepare-main.ts, as the Helm chart's Job runs it (a process of its own, configured by
 * its environment): a new database is migrated to the latest schema and the namespace's search
 * attributes are registered; run again, it changes nothing and succeeds.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { migrations } from '../../core/db/migrations/sqlite/index.js';
import { openDatabase } from '../../core/db/orm.js';
import { SEARCH_ATTRIBUTES } from '../../workflows/messages.js';
import { REPO_ROOT } from '../support/paths.js';

const stack = inject('stack');
const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-prepare-'));
const dbPath = path.join(dir, 'hackstream.sqlite');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const prepare = () =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'worker/prepare-main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...stack.env, HACKSTREAM_DB_PATH: dbPath, HACKSTREAM_LOG_LEVEL: 'info' },
  });

describe('the preparation Job', () => {
  it('migrates a new database and registers the search attributes, and does nothing the second time', async () => {
    const first = await prepare();
    expect(first.stdout).toContain('database migrated');
    const db = await openDatabase({ driver: 'sqlite', path: dbPath, url: undefined });
    try {
      const applied = await db.em.getConnection().execute<Array<{ name: string }>>('select name from mikro_orm_migrations order by id');
      expect(applied.map((m) => m.name)).toEqual(migrations.map((m) => m.name));
    } finally {
      await db.close();
    }
    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      const listed = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const key of SEARCH_ATTRIBUTES) expect(Object.keys(listed.customAttributes ?? {})).toContain(key.name);
    } finally {
      await connection.close();
    }
    const again = await prepare();
    expect(again.stdout).toContain('search attributes registered');
  });
});
