/**
 * The bound below which a session's container refuses native tokens (SessionFiles.refuseNativeTokens),
 * on a real directory: written in the session's files, only ever raised, and nothing for a session
 * whose files are gone.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FILES, SessionFiles } from '../../activities/session-files.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'hs-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const files = new SessionFiles(root);

describe('SessionFiles.refuseNativeTokens', () => {
  it('writes the bound into the session files, read-only, and only ever raises it', async () => {
    await files.write('s-1', { certPem: 'cert', keyPem: 'key', tokenPublicKeyHex: 'ab'.repeat(32) });
    const file = path.join(root, 's-1', FILES.tokensRefusedUntil);
    expect(await files.refuseNativeTokens('s-1', 1_800_000_100_000)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('1800000100000\n');
    expect(statSync(file).mode & 0o777).toBe(0o400);
    await files.refuseNativeTokens('s-1', 1_800_000_050_000);
    expect(readFileSync(file, 'utf8')).toBe('1800000100000\n');
    await files.refuseNativeTokens('s-1', 1_800_000_200_000);
    expect(readFileSync(file, 'utf8')).toBe('1800000200000\n');
  });

  it('reaches nothing for a session without files (it ended)', async () => {
    expect(await files.refuseNativeTokens('s-gone', 1_800_000_100_000)).toBe(false);
  });
});
