/**
 * The whole platform through a real restart of its host: a virtual machine (test/support/test-vm.ts,
 * a root of its own on its disk) runs the quick start, `stack/up.sh` (the Docker engine, Redis,
 * Temporal, Traefik, the API, the worker, the node gateway), and a user's persistent Firefox
 * writes into its profile; then the machine shuts down as a rebooting host does, with the session
 * running, and boots again on the same disk, its kernel, mounts, loop devices, networks and
 * every process new. `stack/up.sh` once more, and through the ingress, as a user: the session the
 * shutdown ended is ended (its container and its profile's mount point gone), and the user's next
 * persistent Firefox starts (the profile's lock free) with what the first one wrote.
 * The guest's side: test/support/platform-reboot-guest.sh. The profile alone through a loss of
 * power: profile-host-restart.test.ts; the platform through kill -9 of its parts and through
 * `stack/down.sh` and `stack/up.sh` on this host: the crash, chaos and quick-start tests.
 *
 * Slow (emulated, one processor: each boot's `stack/up.sh` takes minutes), so it runs beside the
 * shared stack's files, in the self-contained lane, which ends long before that one.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAppCatalog } from '../../core/app-catalog.js';
import { copyImagesToEngineStore } from '../support/engine-store.js';
import { REPO_ROOT } from '../support/paths.js';
import { shellQuote as quote, TestVm } from '../support/test-vm.js';

const BOOT_TIMEOUT_MS = 12 * 60_000;
const SHUTDOWN_TIMEOUT_MS = 60_000;
const catalog = readAppCatalog();
// What stack/up.sh looks for before it builds (images/build-session-image.sh): each image's
// content tag for the sources as they are (not whatever `latest` names on this host), and their base.
const IMAGES = [
  ...execFileSync('bash', [path.join(REPO_ROOT, 'images', 'build-session-image.sh'), '--content-tags'], { encoding: 'utf8' }).split('\n').filter(Boolean),
  'hackstream/debian-base:bookworm',
];
const GUEST = path.join(REPO_ROOT, 'test', 'support', 'platform-reboot-guest.sh');

// The engine's images and the platform's state on a disk as large as a host's; sparse.
const vm = new TestVm({ root: 'overlay', diskMb: 16_384, memoryMb: 6144 });
afterAll(() => vm.dispose());

function bootWith(mark: string, args: string[]) {
  const env = { MARK: mark, MARK_FILE: `${catalog['firefox']!.dataDir}/hs-mark`, HS_VM_DISK: vm.diskInGuest };
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`).join(' ');
  return vm.boot(`${assignments} bash ${quote(GUEST)} ${args.map(quote).join(' ')}\n`);
}

describe('the whole platform on a host that restarts', () => {
  it('ends the session the restart stopped, and the user’s next persistent session has the profile, with its data', async () => {
    // The machine's stack/up.sh finds the control plane built (building it emulated takes minutes).
    execFileSync('bash', [path.join(REPO_ROOT, 'stack', 'build-app.sh')], { stdio: 'ignore' });
    await vm.fillDisk((disk) => copyImagesToEngineStore(disk, 'docker', IMAGES));
    const mark = `kept-across-host-restart-${randomUUID()}`;

    const first = bootWith(mark, ['before']);
    const before = await first.report(BOOT_TIMEOUT_MS);
    expect(before).toEqual({ session: expect.stringMatching(/^[0-9a-f-]{36}$/), state: 'ready', mark });
    const shutdown = await first.stopped(SHUTDOWN_TIMEOUT_MS);
    expect(shutdown.orderly, shutdown.console).toBe(true);

    const second = bootWith(mark, ['after', String(before['session'])]);
    const after = await second.report(BOOT_TIMEOUT_MS);
    expect(after, JSON.stringify(after)).toEqual({
      old: { state: expect.stringMatching(/^(stopped|failed)$/), reason: expect.any(String), containers: 0 },
      mountsLeft: [],
      next: { created: true, mark, stopStatus: expect.stringMatching(/^20[02]$/), state: 'stopped' },
    });
    expect((await second.stopped(SHUTDOWN_TIMEOUT_MS)).orderly).toBe(true);
  }, 2 * BOOT_TIMEOUT_MS + 2 * SHUTDOWN_TIMEOUT_MS + 120_000);
});
