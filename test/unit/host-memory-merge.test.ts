import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import winston from 'winston';
import Transport from 'winston-transport';
import { ksmState, reportHostMemoryMerge } from '../../worker/host-memory-merge.js';

/** A logger that keeps what it is given. */
function recordingLogger() {
  const lines: { level: string; message: string }[] = [];
  const transport = new (class extends Transport {
    override log(info: { level: string; message: string }, next: () => void) {
      lines.push({ level: info.level, message: info.message });
      next();
    }
  })();
  return { logger: winston.createLogger({ level: 'debug', transports: [transport] }), lines };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function ksmDir(run?: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-ksm-'));
  dirs.push(dir);
  if (run !== undefined) writeFileSync(path.join(dir, 'run'), `${run}\n`);
  return dir;
}

describe('same-page merging on the host', () => {
  it('reads whether the kernel merges: running, stopped (or unmerging), or not in this kernel', async () => {
    expect(await ksmState(ksmDir('1'))).toBe('running');
    expect(await ksmState(ksmDir('0'))).toBe('stopped');
    expect(await ksmState(ksmDir('2'))).toBe('stopped');
    expect(await ksmState(path.join(ksmDir(), 'missing'))).toBe('unsupported');
  });

  it('says, when sessions allow merging, whether the host really merges, and how to switch it on', async () => {
    const running = recordingLogger();
    await reportHostMemoryMerge(true, running.logger, ksmDir('1'));
    expect(running.lines).toEqual([{ level: 'info', message: expect.stringMatching(/merges sessions' identical pages/) }]);
    const stopped = recordingLogger();
    await reportHostMemoryMerge(true, stopped.logger, ksmDir('0'));
    expect(stopped.lines).toEqual([{ level: 'warn', message: expect.stringContaining('echo 1 > /sys/kernel/mm/ksm/run') }]);
    const none = recordingLogger();
    await reportHostMemoryMerge(true, none.logger, path.join(ksmDir(), 'missing'));
    expect(none.lines).toEqual([{ level: 'warn', message: expect.stringContaining('CONFIG_KSM') }]);
    const off = recordingLogger();
    await reportHostMemoryMerge(false, off.logger, ksmDir('0'));
    expect(off.lines).toEqual([]);
  });
});
