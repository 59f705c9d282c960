/**
 * A persistent profile's lock (its session's row, core/session-rows.ts) survives a kill -9 of the
 * worker exactly as long as its session does, and no longer: with a worker process of its own on
 * a queue of its own, killed with SIGKILL while persistent sessions run, then started again and
 * given one reconcile pass, every profile is free again (a new persistent session of each starts,
 * with its data) and nothing of the old sessions is left: no container, no profile mount.
 *  - a session the user stopped while no worker ran ends when the next worker takes its workflow;
 *  - a session whose workflow was lost with the worker (terminated here, as an operator or a
 *    Temporal outage would) is the reconciler's: it unmounts the profile and ends the row.
 * And a restart of the host as far as a test can make one: the worker, the session's container
 * and the profile's mount (and with it its loop device) all gone at once, as a shutdown leaves
 * them; the next worker ends the session and the profile is the user's again, with its data.
 * And a loss of power: the profile's image as the disk holds it then (written and synced, but
 * never unmounted: its journal not yet replayed), which the next mount recovers. The profile
 * itself through a real power cut and a real restart of its host's kernel:
 * test/integration/profile-host-restart.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ProfileVolumes } from '../../activities/profile-volumes.js';
import { sessionWorkflowId } from '../../workflows/messages.js';
import { startApiOn, type ApiUnderTest } from '../support/api-under-test.js';
import { spawnControlPlane, type ControlPlaneProcess } from '../support/control-plane-process.js';
import { docker, execIn, sessionContainers } from '../support/docker.js';
import { reconcileNow } from '../support/reconcile-pass.js';
import { until } from '../support/until.js';

const stack = inject('stack');
const taskQueue = `hs-profile-crash-${process.pid}`;
const ownDir = mkdtempSync(path.join(os.tmpdir(), 'hs-profile-crash-'));
const profilesDir = path.join(ownDir, 'profiles');
// A database and profiles of its own: its reconciler judges only what this test made.
const env = {
  ...stack.env,
  HACKSTREAM_DB_PATH: path.join(ownDir, 'hackstream.sqlite'),
  HACKSTREAM_TASK_QUEUE: taskQueue,
  HACKSTREAM_PROFILES_DIR: profilesDir,
  HACKSTREAM_POOL: 'off',
  HACKSTREAM_RECONCILE_GRACE_SECONDS: '1',
  HACKSTREAM_ACTIVITY_POLL_SECONDS: '1',
};

let t: ApiUnderTest;
let worker: ControlPlaneProcess | undefined;

const startWorker = () => spawnControlPlane('worker', env, (out) => out.includes('worker started'));

beforeAll(async () => {
  worker = await startWorker();
  t = await startApiOn(stack, env);
});
afterAll(async () => {
  await t?.close();
  await worker?.stop();
  // Its database and profile images; never while a profile is still mounted there (the test failed).
  if (profileMounts().length === 0) rmSync(ownDir, { recursive: true, force: true });
});

/** Where this worker's profiles are mounted, as the host's mount table has them. */
const profileMounts = () =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint.startsWith(path.join(profilesDir, 'mounts')));

async function persistentFirefox(token: string) {
  const created = await t.call('POST', '/v1/sessions', { token, body: { app: 'firefox', profile: 'persist' } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const [container] = await sessionContainers(created.body.session_id);
  return { id: created.body.session_id as string, containerId: container!.Id };
}

const stateOf = async (token: string, id: string) => (await t.call('GET', `/v1/sessions/${id}`, { token })).body;

describe('a kill -9 of the worker during persistent sessions', () => {
  it('keeps each profile locked while its session lives, and frees it once the session ends, the next worker and one reconcile pass later', async () => {
    const stopped = await t.newUser();
    const lost = await t.newUser();
    const a = await persistentFirefox(stopped.token);
    const b = await persistentFirefox(lost.token);
    // Something of each user's own in their profile, to find again.
    for (const [s, mark] of [[a, 'kept-a'], [b, 'kept-b']] as const) {
      expect((await execIn(s.containerId, ['sh', '-c', `echo ${mark} > /home/hs/.mozilla/hackstream-profile/hs-mark`])).exitCode).toBe(0);
    }
    expect(profileMounts()).toHaveLength(2);

    worker!.proc.kill('SIGKILL');
    await new Promise((r) => worker!.proc.once('exit', r));
    worker = undefined;

    // No worker: a's user stops it (the stop waits in its workflow), b's workflow is lost.
    const stop = await t.call('POST', `/v1/sessions/${a.id}/stop`, { token: stopped.token, body: {} });
    expect(stop.status, JSON.stringify(stop.body)).toBe(202);
    await t.temporal.workflow.getHandle(sessionWorkflowId(b.id)).terminate('lost with its worker (test)');
    // Both sessions still hold their profiles: a second writer is refused.
    for (const [user, s] of [[stopped, a], [lost, b]] as const) {
      const second = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox', profile: 'persist' } });
      expect(second.status, JSON.stringify(second.body)).toBe(409);
      expect(second.body.error).toMatchObject({ code: 'profile_in_use', session_id: s.id });
    }

    worker = await startWorker();
    await until(`session ${a.id} stopped by the new worker`, async () => ((await stateOf(stopped.token, a.id)).state === 'stopped' ? true : null), 120_000, 250);
    // One pass (the new worker runs one at its start; this one is sure to start after it).
    await reconcileNow(t.temporal, taskQueue);
    expect(await stateOf(lost.token, b.id)).toMatchObject({ state: 'failed', reason: 'workflow_lost' });
    const admin = await t.newUser('admin');
    const audit = await t.call('GET', `/v1/audit?action=reconcile.session_removed&user=${lost.id}`, { token: admin.token });
    expect(audit.body.events).toEqual([expect.objectContaining({ target_id: b.id, details: expect.objectContaining({ removed: expect.arrayContaining(['container', 'profile']) }) })]);
    for (const s of [a, b]) expect(await sessionContainers(s.id)).toHaveLength(0);
    expect(profileMounts()).toEqual([]);

    // Free again, with what each user had in it.
    for (const [user, mark] of [[stopped, 'kept-a'], [lost, 'kept-b']] as const) {
      const next = await persistentFirefox(user.token);
      expect((await execIn(next.containerId, ['cat', '/home/hs/.mozilla/hackstream-profile/hs-mark'])).output.trim()).toBe(mark);
      await t.stopAndWait(user.token, next.id);
    }
    expect(profileMounts()).toEqual([]);
  });

  it('keeps each profile, with its data, across a restart of the host: the next worker ends the session the shutdown stopped and the profile is free again', async () => {
    await profileAcrossHostDown('kept-across-restart', {
      // The shutdown: the engine stops the container (SIGTERM, then SIGKILL), and the host
      // unmounts every file system, the profile's with its loop device (autoclear).
      down: async ({ containerId, mount }) => {
        await docker.getContainer(containerId).stop({ t: 5 });
        execFileSync('umount', [mount]);
        expect(profileMounts()).toEqual([]);
      },
    });
  });

  it('keeps each profile, with its data, across a loss of power: the next mount replays the journal the image was left with', async () => {
    const atPowerLoss = path.join(ownDir, 'at-power-loss.ext4');
    await profileAcrossHostDown('kept-across-power-loss', {
      // What the disk holds when the power goes: everything written so far reached it (a sync),
      // but the file system was never unmounted. A copy of the image now is that disk.
      beforeDown: ({ image }) => {
        execFileSync('sync');
        execFileSync('cp', ['--sparse=always', image, atPowerLoss]);
        expect(execFileSync('dumpe2fs', ['-h', atPowerLoss], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }), 'the image as the power loss left it').toMatch(/features:.*needs_recovery/);
      },
      // Everything stops at once; on the host's next start the disk is as it was when the power went.
      down: async ({ containerId, mount, image }) => {
        await docker.getContainer(containerId).kill();
        execFileSync('umount', [mount]);
        execFileSync('cp', ['--sparse=always', atPowerLoss, image]);
        rmSync(atPowerLoss);
      },
    });
  });
});

interface HostGoingDown {
  containerId: string;
  /** Where the profile is mounted for the session. */
  mount: string;
  /** The profile's image. */
  image: string;
}

/**
 * A persistent Firefox writes `mark` into its profile; `beforeDown` runs while all still runs;
 * the host goes down: its worker killed (SIGKILL), then `down` (what else the host loses). The
 * host is up again: its platform starts, the session's workflow finds its container ended, and the
 * user's next persistent session has the mark; the profile is free again after it.
 */
async function profileAcrossHostDown(mark: string, host: { beforeDown?: (s: HostGoingDown) => void; down: (s: HostGoingDown) => Promise<void> }) {
  worker ??= await startWorker();
  const user = await t.newUser();
  const s = await persistentFirefox(user.token);
  expect((await execIn(s.containerId, ['sh', '-c', `echo ${mark} > /home/hs/.mozilla/hackstream-profile/hs-mark`])).exitCode).toBe(0);
  const [mount] = profileMounts();
  expect(mount, 'the session has its profile mounted').toBeDefined();
  const going: HostGoingDown = { containerId: s.containerId, mount: mount!, image: new ProfileVolumes(profilesDir).imageOf({ userId: user.id, app: 'firefox' }) };
  host.beforeDown?.(going);

  worker.proc.kill('SIGKILL');
  await new Promise((r) => worker!.proc.once('exit', r));
  worker = undefined;
  await host.down(going);

  worker = await startWorker();
  const ended = await until(`session ${s.id} ended by the new worker`, async () => {
    const row = await stateOf(user.token, s.id);
    return ['stopped', 'failed'].includes(row.state) ? row : null;
  }, 120_000, 250);
  expect(ended.reason, JSON.stringify(ended)).toEqual(expect.any(String));
  expect(await sessionContainers(s.id)).toHaveLength(0);
  // Nothing of it left for the reconciler either: not even the mount point the host left behind.
  expect((await new ProfileVolumes(profilesDir).list()).map((m) => m.sessionId)).not.toContain(s.id);

  const next = await persistentFirefox(user.token);
  expect((await execIn(next.containerId, ['cat', '/home/hs/.mozilla/hackstream-profile/hs-mark'])).output.trim()).toBe(mark);
  await t.stopAndWait(user.token, next.id);
  expect(profileMounts()).toEqual([]);
}
