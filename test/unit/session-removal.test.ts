import { describe, expect, it } from 'vitest';
import { sessionRemover } from '../../activities/session-removal.js';

describe('sessionRemover', () => {
  function recording(fail?: string, profileAttached = false, appQuits = true) {
    const calls: string[] = [];
    const step = <T>(name: string, value: T) => async (id: string): Promise<T> => {
      calls.push(`${name}:${id}`);
      if (fail === name) throw new Error(`${name} failed`);
      return value;
    };
    const remove = sessionRemover({
      routes: { remove: step('routes', undefined) },
      credentials: { revokeAll: step('credentials', 2) },
      runtime: { removeSessionContainers: step('containers', 1), quitApp: step('quit', appQuits) },
      profiles: { isAttached: async () => profileAttached, detach: step('profile', profileAttached ? { usedMb: 30, capMb: 1000 } : null) },
      firewall: { close: step('firewall', undefined) },
      files: { remove: step('files', undefined) },
    });
    return { remove, calls };
  }

  it('closes the doors first (routes, credentials), then removes the containers, a profile\'s mount point, the egress openings, then the files', async () => {
    const { remove, calls } = recording();
    expect(await remove('s-1')).toEqual({ removed: 1, revoked: 2 });
    // The profile's step with nothing mounted: a mount point a host left when it went down.
    expect(calls).toEqual(['routes:s-1', 'credentials:s-1', 'containers:s-1', 'profile:s-1', 'firewall:s-1', 'files:s-1']);
  });

  it('asks a persistent session\'s app to quit before its container goes, and unmounts its profile only after that', async () => {
    const { remove, calls } = recording(undefined, true);
    expect(await remove('s-1')).toEqual({ removed: 1, revoked: 2, profile: { usedMb: 30, capMb: 1000 }, appQuit: { quit: true, ms: expect.any(Number) } });
    expect(calls).toEqual(['routes:s-1', 'credentials:s-1', 'quit:s-1', 'containers:s-1', 'profile:s-1', 'firewall:s-1', 'files:s-1']);
  });

  it('removes a persistent session whose app did not quit in time all the same, and says so', async () => {
    const { remove, calls } = recording(undefined, true, false);
    expect(await remove('s-1')).toMatchObject({ removed: 1, profile: { usedMb: 30 }, appQuit: { quit: false } });
    expect(calls).toEqual(['routes:s-1', 'credentials:s-1', 'quit:s-1', 'containers:s-1', 'profile:s-1', 'firewall:s-1', 'files:s-1']);
  });

  it('never unmounts a profile while its container may still write to it', async () => {
    const { remove, calls } = recording('containers', true);
    await expect(remove('s-1')).rejects.toThrow('containers failed');
    expect(calls).not.toContain('profile:s-1');
  });

  it('stops at a failed step, so that a retry never removes the secrets of a container still running', async () => {
    const { remove, calls } = recording('containers');
    await expect(remove('s-1')).rejects.toThrow('containers failed');
    expect(calls).toEqual(['routes:s-1', 'credentials:s-1', 'containers:s-1']);
  });

  it('removes the container, its openings and files even when the credentials cannot be revoked, then fails to be retried', async () => {
    const { remove, calls } = recording('credentials');
    await expect(remove('s-1')).rejects.toMatchObject({ name: 'CredentialsNotRevokedError', message: /s-1 is removed but its browser credentials/ });
    expect(calls).toEqual(['routes:s-1', 'credentials:s-1', 'containers:s-1', 'profile:s-1', 'firewall:s-1', 'files:s-1']);
  });
});
