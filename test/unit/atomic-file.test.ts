import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomically } from '../../core/atomic-file.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomically', () => {
  it('replaces the file in one step, with the mode asked for, leaving nothing else behind', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hs-atomic-'));
    const file = path.join(dir, 'routes.yml');
    writeFileSync(file, 'old');
    let seenWhilePreparing: string | undefined;
    await writeFileAtomically(file, 'new', {
      mode: 0o640,
      prepare: async (tmp) => {
        seenWhilePreparing = readFileSync(file, 'utf8');
        expect(readFileSync(tmp, 'utf8')).toBe('new');
      },
    });
    expect(seenWhilePreparing).toBe('old');
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(['routes.yml']);
  });

  it('stages the temporary file in another directory when asked (a watched one never sees it)', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hs-atomic-'));
    const [watched, staging] = ['watched', 'staging'].map((d) => path.join(dir, d));
    for (const d of [watched!, staging!]) mkdirSync(d);
    let stagedIn: string[] = [];
    await writeFileAtomically(path.join(watched!, 'a.yml'), 'x', { mode: 0o644, tmpDir: staging!, prepare: async () => void (stagedIn = readdirSync(staging!)) });
    expect(stagedIn).toHaveLength(1);
    expect(readdirSync(watched!)).toEqual(['a.yml']);
    expect(readdirSync(staging!)).toEqual([]);
  });

  it('leaves the old file and no temporary file when preparing fails', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hs-atomic-'));
    const file = path.join(dir, 'token.key');
    writeFileSync(file, 'old');
    await expect(writeFileAtomically(file, 'new', { mode: 0o400, prepare: () => Promise.reject(new Error('chown failed')) })).rejects.toThrow('chown failed');
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['token.key']);
    expect(existsSync(`${file}.tmp`)).toBe(false);
  });
});
