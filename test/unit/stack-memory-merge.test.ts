/**
 * stack/lib.sh's ensure_memory_merge (run by stack/up.sh), on a directory standing in for the
 * kernel's /sys/kernel/mm/ksm: it starts ksmd at its gentler pace only when the operator turned
 * merging on and ksmd was stopped, and leaves a running ksmd's pace to its host.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A stand-in for the kernel's KSM settings. */
function ksmDir(settings: { run: string; sleep_millisecs: string }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-ksm-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'run'), `${settings.run}\n`);
  writeFileSync(path.join(dir, 'sleep_millisecs'), `${settings.sleep_millisecs}\n`);
  writeFileSync(path.join(dir, 'pages_to_scan'), '100\n');
  return dir;
}

function ensureMemoryMerge(dir: string, merge: string) {
  const done = spawnSync('bash', ['-c', 'source stack/lib.sh && ensure_memory_merge'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'], HS_KSM_DIR: dir, HACKSTREAM_SESSION_MEMORY_MERGE: merge },
    encoding: 'utf8',
  });
  expect(done.status, done.stderr).toBe(0);
  const read = (name: string) => readFileSync(path.join(dir, name), 'utf8').trim();
  return { output: done.stdout + done.stderr, run: read('run'), sleep: read('sleep_millisecs') };
}

const root = process.getuid?.() === 0;

describe('ensure_memory_merge', () => {
  it('leaves ksmd alone when merging is off', () => {
    expect(ensureMemoryMerge(ksmDir({ run: '0', sleep_millisecs: '20' }), 'off')).toMatchObject({ run: '0', sleep: '20' });
  });

  it(root ? 'starts a stopped ksmd at 100 pages every 100 ms when merging is on' : 'says how to start ksmd when merging is on (not root here)', () => {
    const after = ensureMemoryMerge(ksmDir({ run: '0', sleep_millisecs: '20' }), 'on');
    if (root) {
      expect(after).toMatchObject({ run: '1', sleep: '100' });
      expect(after.output).toContain('100 pages every 100 ms');
    } else {
      expect(after).toMatchObject({ run: '0', sleep: '20' });
      expect(after.output).toContain('ksmd is stopped');
    }
  });

  it("keeps a running ksmd's pace, set by its host", () => {
    expect(ensureMemoryMerge(ksmDir({ run: '1', sleep_millisecs: '20' }), 'on')).toMatchObject({ run: '1', sleep: '20' });
  });
});
