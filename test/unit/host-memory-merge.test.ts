import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import winston from 'winston';
import Transport from 'winston-transport';
import { keepsMergingAcrossExec, ksmState, reportHostMemoryMerge } from '../../worker/host-memory-merge.js';

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
    const release = '6.18.0';
    const running = recordingLogger();
    await reportHostMemoryMerge(true, running.logger, { dir: ksmDir('1'), release });
    expect(running.lines).toEqual([{ level: 'info', message: expect.stringMatching(/merges sessions' identical pages/) }]);
    const stopped = recordingLogger();
    await reportHostMemoryMerge(true, stopped.logger, { dir: ksmDir('0'), release });
    expect(stopped.lines).toEqual([{ level: 'warn', message: expect.stringContaining('echo 1 > /sys/kernel/mm/ksm/run') }]);
    const none = recordingLogger();
    await reportHostMemoryMerge(true, none.logger, { dir: path.join(ksmDir(), 'missing'), release });
    expect(none.lines).toEqual([{ level: 'warn', message: expect.stringContaining('CONFIG_KSM') }]);
    // A `run` that is a directory: unreadable, said, and the worker goes on.
    const unreadable = recordingLogger();
    const odd = ksmDir();
    mkdirSync(path.join(odd, 'run'));
    await reportHostMemoryMerge(true, unreadable.logger, { dir: odd, release });
    expect(unreadable.lines).toEqual([{ level: 'warn', message: expect.stringContaining('cannot be read') }]);
    const old = recordingLogger();
    await reportHostMemoryMerge(true, old.logger, { dir: ksmDir('1'), release: '6.6.30-generic' });
    expect(old.lines).toEqual([{ level: 'warn', message: expect.stringContaining('kernel 6.6.30-generic drops the setting') }]);
    const off = recordingLogger();
    await reportHostMemoryMerge(false, off.logger, { dir: ksmDir('0'), release });
    expect(off.lines).toEqual([]);
  });

  it('knows which kernels keep the setting across exec', () => {
    for (const r of ['6.7.0', '6.18.44-fc-v1147', '7.0.1']) expect(keepsMergingAcrossExec(r), r).toBe(true);
    for (const r of ['6.6.30-generic', '6.1.0-27-amd64', '5.15.0', 'unknown']) expect(keepsMergingAcrossExec(r), r).toBe(false);
  });
});
