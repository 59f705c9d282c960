/**
 * images/session/session-file.sh, the command a pod's files sidecar runs for the worker
 * (activities/kube-live-files.ts): one line on its input becomes one session file, replaced
 * whole or appended to, in HACKSTREAM_LIVE_DIR, and nothing else is written.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.js';

const SCRIPT = path.join(REPO_ROOT, 'images/session/session-file.sh');
let dir: string;

const run = (args: string[], input: string) => spawnSync('sh', [SCRIPT, ...args], { input, env: { PATH: process.env['PATH'] ?? '', HACKSTREAM_LIVE_DIR: dir }, encoding: 'utf8' });

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hs-live-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('hackstream-session-file', () => {
  it('replaces the token key and the URL whole, readable by the group and nobody else, with no temporary file left', () => {
    expect(run(['open-url'], 'https://example.com/a\n').status).toBe(0);
    expect(run(['open-url'], 'https://example.com/b\n').status).toBe(0);
    expect(readFileSync(path.join(dir, 'open-url'), 'utf8')).toBe('https://example.com/b\n');
    expect(run(['token.pub'], 'ab12').status).toBe(0);
    expect(readFileSync(path.join(dir, 'token.pub'), 'utf8')).toBe('ab12\n');
    expect(statSync(path.join(dir, 'token.pub')).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).sort()).toEqual(['open-url', 'token.pub']);
  });

  it('appends each bound of refused tokens, one line each, and takes only the first line it is given', () => {
    expect(run(['token.refused-until'], '1800000000000\n').status).toBe(0);
    expect(run(['token.refused-until'], '1800000000500\n9999999999999\n').status).toBe(0);
    expect(readFileSync(path.join(dir, 'token.refused-until'), 'utf8')).toBe('1800000000000\n1800000000500\n');
  });

  it('refuses any other name and an empty input, writing nothing', () => {
    for (const name of ['../escape', 'tls-key.pem', '']) {
      const done = run([name], 'x\n');
      expect(done.status, name).toBe(2);
      expect(done.stderr).toMatch(/usage/);
    }
    expect(run(['open-url'], '').status).toBe(2);
    expect(readdirSync(dir)).toEqual([]);
  });
});
