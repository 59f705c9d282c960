/**
 * A user's persistent profile across a real loss of power and a real restart of its host: a
 * virtual machine (test/support/test-vm.ts) with a kernel and a disk of its own runs the worker's
 * profile code (activities/profile-volumes.ts, by test/support/profile-volumes-guest.ts), boot
 * after boot on the same disk:
 *  1. a session's profile mounted and written (the app syncs what it writes), then the machine's
 *     power cut with the profile still mounted;
 *  2. the next boot finds what such a host finds: the session's mount point left, the profile's
 *     journal to be replayed; the session's removal detaches nothing (nothing is mounted), the
 *     next session mounts the profile, which holds the data, and writes more (not synced); then
 *     the host shuts down in order with that session running, as a reboot does;
 *  3. the boot after that: the profile's file system clean, both writes there.
 * What the control plane does around this after a restart (the session ended by the next worker,
 * the profile's lock released, the mount point reconciled) is test/e2e/persistent-profile-crash.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.js';
import { reportOf, shellQuote as quote, TestVm, type VmBoot } from '../support/test-vm.js';

const BOOT_TIMEOUT_MS = 180_000;
const vm = new TestVm();
afterAll(() => vm.dispose());

/** A boot that runs the guest program with `args` (test/support/profile-volumes-guest.ts) for `user`. */
function bootWith(user: string, args: string[]): VmBoot {
  const command = [
    process.execPath, '--import', 'tsx', 'test/support/profile-volumes-guest.ts',
    '--root', path.join(vm.diskMount, 'profiles'), '--user', user, ...args,
  ];
  // The host's files are read-only in the machine: tsx's cache goes on its disk.
  const tmp = path.join(vm.diskMount, 'tmp');
  return vm.boot(`set -e\nmkdir -p ${quote(tmp)}\ncd ${quote(REPO_ROOT)}\nTMPDIR=${quote(tmp)} ${command.map(quote).join(' ')}\n`);
}

describe('a persistent profile on a host that loses power, then restarts', () => {
  it('keeps what the app synced through the power cut, and what it wrote through the orderly restart', async () => {
    const user = randomUUID();
    const [first, second, third] = [randomUUID(), randomUUID(), randomUUID()];

    const running = bootWith(user, ['--attach', first, '--write', 'bookmarks=mark before the power cut', '--sync', '--wait']);
    expect(await running.report(BOOT_TIMEOUT_MS)).toEqual({ files: {} });
    await running.powerCut();

    const afterPowerCut = await bootWith(user, ['--end', first, '--attach', second, '--write', 'prefs=mark before the restart']).stopped(BOOT_TIMEOUT_MS);
    expect(afterPowerCut.orderly, afterPowerCut.console).toBe(true);
    expect(reportOf(afterPowerCut.console)).toEqual({
      mountPointsLeft: [first],
      journalNeedsRecovery: true,
      ended: null,
      files: { bookmarks: 'mark before the power cut' },
    });

    const afterRestart = await bootWith(user, ['--end', second, '--attach', third, '--detach']).stopped(BOOT_TIMEOUT_MS);
    expect(afterRestart.orderly, afterRestart.console).toBe(true);
    const report = reportOf(afterRestart.console);
    expect(report).toMatchObject({
      mountPointsLeft: [second],
      journalNeedsRecovery: false,
      ended: null,
      files: { bookmarks: 'mark before the power cut', prefs: 'mark before the restart' },
    });
    expect(report.detached).toMatchObject({ capMb: expect.any(Number), usedMb: expect.any(Number) });
  }, 4 * BOOT_TIMEOUT_MS);
});
