/**
 * Runs inside the tests' virtual machine (test/support/test-vm.ts): one boot's part of a user's
 * persistent profile as the worker handles it (activities/profile-volumes.ts), on the machine's
 * own disk and kernel. Reports (test-vm.ts `reportLine`) what it found:
 *   --end S        a session that was running when the host went down: what the host left of it
 *                  (its mount point, as the reconciler lists them), whether the profile's file
 *                  system needs its journal replayed, then its profile detached as the session's
 *                  removal does (null: nothing was mounted any more)
 *   --attach S     the profile mounted for session S, and every file in it with its contents
 *   --write N=T    file N written there with text T; with --sync flushed to the disk (fsync)
 *   --detach       the profile unmounted at the end, with its usage
 *   --wait         then keeps running (with the profile mounted) until the machine dies
 *
 *   node --import tsx test/support/profile-volumes-guest.ts --root DIR --user ID [options]
 */
import { execFileSync } from 'node:child_process';
import { open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ProfileVolumes, type ProfileKey } from '../../activities/profile-volumes.js';
import { reportLine } from './test-vm.js';

const CAP_MB = 64;

const { values: opts } = parseArgs({
  options: {
    root: { type: 'string' },
    user: { type: 'string' },
    end: { type: 'string' },
    attach: { type: 'string' },
    write: { type: 'string' },
    sync: { type: 'boolean', default: false },
    detach: { type: 'boolean', default: false },
    wait: { type: 'boolean', default: false },
  },
});
if (!opts.root || !opts.user || !opts.attach) throw new Error('--root, --user and --attach are required');
const volumes = new ProfileVolumes(opts.root);
const key: ProfileKey = { userId: opts.user, app: 'firefox' };
const report: Record<string, unknown> = {};

if (opts.end) {
  report.mountPointsLeft = (await volumes.list()).map((m) => m.sessionId);
  const features = execFileSync('dumpe2fs', ['-h', volumes.imageOf(key)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  report.journalNeedsRecovery = /^Filesystem features:.*\bneeds_recovery\b/m.test(features);
  report.ended = await volumes.detach(opts.end);
}

const { dir } = await volumes.attach(opts.attach, key, CAP_MB);
const files: Record<string, string> = {};
for (const name of (await readdir(dir)).filter((n) => n !== 'lost+found').sort()) files[name] = await readFile(path.join(dir, name), 'utf8');
report.files = files;

if (opts.write) {
  const [name, text] = opts.write.split('=', 2) as [string, string];
  const file = await open(path.join(dir, name), 'w');
  await file.writeFile(text);
  if (opts.sync) await file.sync();
  await file.close();
  if (opts.sync) {
    // Its directory entry too: without it the file itself may not be there after a loss of power.
    const parent = await open(dir, 'r');
    await parent.sync();
    await parent.close();
  }
}
if (opts.detach) report.detached = await volumes.detach(opts.attach);

process.stdout.write(reportLine(report));
if (opts.wait) setInterval(() => undefined, 60_000);
