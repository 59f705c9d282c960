/**
 * Waiting for a new container's app window (activities/session-provisioning.ts), in Temporal's
 * mock activity environment with a scripted container runtime: the wait runs in the container in
 * short slices, retries what could not run, and ends with the window, the deadline or the
 * container's exit. (The real wait, hackstream-app-window in the image, runs in every
 * integration test that starts a session.)
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import type { AppWindowWait } from '../../activities/app-window-command.js';
import type { ContainerRuntime } from '../../activities/docker-session-runtime.js';
import { ContainerExitedError, NotReadyInTimeError } from '../../activities/errors.js';
import { sessionProvisioning, type ProvisioningDeps } from '../../activities/session-provisioning.js';
import { StartAdmission } from '../../activities/start-admission.js';
import type { SessionContainer } from '../../workflows/messages.js';
import { testSessionSpec } from '../support/session-spec.js';

type Step = AppWindowWait | Error;

function provisioningWith(steps: Step[], opts: { running?: boolean } = {}) {
  const waits: Array<{ windowClass: string; seconds: number }> = [];
  const limited: Array<{ id: string; cpus: number; afterWaits: number }> = [];
  const runtime = {
    ensureSessionContainer: async () => ({ id: 'c1', name: 'n1', ip: '10.213.0.2' }),
    inspect: async (id: string) => ({ id, running: opts.running ?? true, exitCode: opts.running === false ? 1 : null, imageId: 'sha256:x' }),
    logsTail: async () => 'Xvfb failed to start\n',
    updateLimits: async (id: string, r: { cpus: number }) => void limited.push({ id, cpus: r.cpus, afterWaits: waits.length }),
    appWindow: async (_id: string, windowClass: string, seconds: number) => {
      waits.push({ windowClass, seconds });
      const step = steps.length > 1 ? steps.shift()! : steps[0]!;
      if (step instanceof Error) throw step;
      return step;
    },
  } as unknown as ContainerRuntime;
  const deps = {
    runtime,
    firewall: { open: async () => {} },
    files: { dirOf: () => '/nowhere' },
    admission: new StartAdmission(1),
  } as unknown as ProvisioningDeps;
  return { waits, limited, provisioning: sessionProvisioning(deps) };
}

describe('waiting for the app window', () => {
  it('retries a wait that could not run, waits again while there is no display or window, and returns the container once the window is there', async () => {
    const { waits, limited, provisioning } = provisioningWith([new Error('container is not running yet'), 'no-display', 'no-window', 'shown']);
    const container = await new MockActivityEnvironment().run<[], SessionContainer, () => Promise<SessionContainer>>(() =>
      provisioning.startAndWaitReady(testSessionSpec('img:1')),
    );
    expect(container.id).toBe('c1');
    expect(waits).toHaveLength(4);
    expect(waits.every((w) => w.windowClass === 'firefox-esr' && w.seconds > 0 && w.seconds <= 2)).toBe(true);
    // The session's CPU quota, which its start went without, once the window is up.
    expect(limited).toEqual([{ id: 'c1', cpus: 0.5, afterWaits: 4 }]);
  });

  it('sets a pool container’s limits once its window is up (its CPU priority, lowered while it started), not before', async () => {
    const { limited, provisioning } = provisioningWith(['no-window', 'shown']);
    await new MockActivityEnvironment().run(() => provisioning.startAndWaitReady(testSessionSpec('img:1'), 'pool-a'));
    expect(limited).toEqual([{ id: 'c1', cpus: 0.5, afterWaits: 2 }]);
  });

  it('gives up at the session’s ready deadline, saying what was missing', async () => {
    const { waits, provisioning } = provisioningWith(['no-window']);
    const spec = testSessionSpec('img:1', { timeouts: { ...testSessionSpec('img:1').timeouts, readySeconds: 1 } });
    const started = Date.now();
    await expect(new MockActivityEnvironment().run(() => provisioning.startAndWaitReady(spec))).rejects.toThrow(NotReadyInTimeError);
    // The fake answers at once: the loop went round until the deadline, never asking past it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(waits.every((w) => w.seconds <= 1)).toBe(true);
    await expect(new MockActivityEnvironment().run(() => provisioning.startAndWaitReady(spec))).rejects.toThrow(/no firefox window yet/);
  });

  it('fails at once with the container’s last output when the container exited', async () => {
    const { waits, provisioning } = provisioningWith(['no-window'], { running: false });
    const failure = new MockActivityEnvironment().run(() => provisioning.startAndWaitReady(testSessionSpec('img:1')));
    await expect(failure).rejects.toThrow(ContainerExitedError);
    await expect(failure).rejects.toThrow(/Xvfb failed to start/);
    expect(waits).toHaveLength(0);
  });
});
