/**
 * The check of files at rest (files-at-rest.ts) refuses what it must: run on a real stack's data
 * directory by test/e2e/quickstart.test.ts, here on one made with a database, a log and a
 * directory others can read, beside the exceptions it allows.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openEntries } from './files-at-rest.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-at-rest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the files-at-rest check', () => {
  it('reports every file and directory others can read or write, except those public by design', () => {
    const write = (relative: string, mode: number) => {
      mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true, mode: 0o700 });
      writeFileSync(path.join(dir, relative), 'x');
      chmodSync(path.join(dir, relative), mode); // whatever this process's umask
    };
    write('hackstream.sqlite', 0o644);
    write('logs/api.log', 0o640);
    write('secrets.env', 0o600);
    write('ca/ca-key.pem', 0o600);
    write('ca/ca.pem', 0o644);
    write('client-apt/repo/dists/stable/InRelease', 0o644);
    write('client-apt/repo-notes.txt', 0o604);
    mkdirSync(path.join(dir, 'sessions', 'abc'), { recursive: true });
    for (const d of ['sessions', 'sessions/abc']) chmodSync(path.join(dir, d), 0o755);
    mkdirSync(path.join(dir, 'traversable'));
    chmodSync(path.join(dir, 'traversable'), 0o711);

    const { open, seen } = openEntries(dir);
    expect(open).toEqual([
      { path: 'client-apt/repo-notes.txt', mode: '0604' },
      { path: 'hackstream.sqlite', mode: '0644' },
      { path: 'logs/api.log', mode: '0640' },
      { path: 'sessions', mode: '0755' },
      { path: 'sessions/abc', mode: '0755' },
    ]);
    expect(seen).toContain('secrets.env');
  });
});
