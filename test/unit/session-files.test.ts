/**
 * The bound below which a session's container refuses native tokens (SessionFiles.refuseNativeTokens),
 * on a real directory: written in the session's files, only ever raised (also by writers at once),
 * and nothing for a session whose files are gone.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { FILES, SessionFiles } from '../../activities/session-files.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'hs-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const files = new SessionFiles(root);
/** What the container's token check takes from the file (images/session/hackstream_auth.py). */
const highest = (file: string) => Math.max(0, ...readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number));

describe('SessionFiles.refuseNativeTokens', () => {
  it('writes the bound into the session files, read-only, and only ever raises it', async () => {
    await files.write('s-1', { certPem: 'cert', keyPem: 'key', tokenPublicKeyHex: 'ab'.repeat(32) });
    const file = path.join(root, 's-1', FILES.tokensRefusedUntil);
    expect(await files.refuseNativeTokens('s-1', 1_800_000_100_000)).toBe(true);
    expect(highest(file)).toBe(1_800_000_100_000);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await files.refuseNativeTokens('s-1', 1_800_000_050_000);
    expect(highest(file)).toBe(1_800_000_100_000);
    await files.refuseNativeTokens('s-1', 1_800_000_200_000);
    expect(highest(file)).toBe(1_800_000_200_000);
  });

  it('keeps the highest bound when changes write at once', async () => {
    await files.write('s-2', { certPem: 'cert', keyPem: 'key', tokenPublicKeyHex: 'ab'.repeat(32) });
    for (let round = 0; round < 5; round++) {
      const bounds = Array.from({ length: 12 }, (_, i) => 1_800_000_000_000 + round * 100 + ((i * 7) % 12));
      await Promise.all(bounds.map((b) => files.refuseNativeTokens('s-2', b)));
      expect(highest(path.join(root, 's-2', FILES.tokensRefusedUntil))).toBe(Math.max(...bounds));
    }
  });

  it('reaches nothing for a session without files (it ended)', async () => {
    expect(await files.refuseNativeTokens('s-gone', 1_800_000_100_000)).toBe(false);
  });
});

describe('SessionFiles.handOverUrl', () => {
  it("puts the URL in the session's files in one step, read-only, for the warm container's watcher", async () => {
    await files.write('s-url', { certPem: 'cert', keyPem: 'key' });
    await files.handOverUrl('s-url', 'https://example.com/a?b=c d');
    const file = path.join(root, 's-url', FILES.openUrl);
    expect(readFileSync(file, 'utf8')).toBe('https://example.com/a?b=c d');
    expect(statSync(file).mode & 0o777).toBe(0o400);
    // Nothing half-written is left beside it (the watcher opens only `open-url`).
    expect(readdirSync(path.join(root, 's-url')).sort()).toEqual([FILES.cert, FILES.openUrl, FILES.key, FILES.tokensRefusedUntil].sort());
  });
});

describe('SessionFiles leftovers', () => {
  it('lists sessions, not half-written directories, and collects only those a writer left long ago', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'hs-leftovers-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    const leftovers = new SessionFiles(root);
    await leftovers.write('s-kept', { certPem: 'cert', keyPem: 'key' });
    const dirOf = (name: string) => path.join(path.dirname(leftovers.dirOf('x')), name);
    // A writer killed between its mkdir and its rename, ten minutes ago; another one writing now.
    mkdirSync(dirOf('s-crashed.tmp-123-1'));
    const longAgo = new Date(Date.now() - 10 * 60_000);
    utimesSync(dirOf('s-crashed.tmp-123-1'), longAgo, longAgo);
    mkdirSync(dirOf('s-writing.tmp-456-2'));
    expect((await leftovers.list()).map((f) => f.sessionId)).toEqual(['s-kept']);
    expect(await leftovers.collectLeftovers(60_000)).toBe(1);
    expect(existsSync(dirOf('s-crashed.tmp-123-1'))).toBe(false);
    expect(existsSync(dirOf('s-writing.tmp-456-2'))).toBe(true);
    expect(existsSync(leftovers.dirOf('s-kept'))).toBe(true);
  });
});
