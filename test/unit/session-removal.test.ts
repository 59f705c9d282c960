import { describe, expect, it } from 'vitest';
import { sessionRemover } from '../../activities/session-removal.js';

describe('sessionRemover', () => {
  function recording(fail?: string) {
    const calls: string[] = [];
    const step = <T>(name: string, value: T) => async (id: string): Promise<T> => {
      calls.push(`${name}:${id}`);
      if (fail === name) throw new Error(`${name} failed`);
      return value;
    };
    const remove = sessionRemover({
      routes: { remove: step('routes', undefined) },
      credentials: { revokeAll: step('credentials', 2) },
      runtime: { removeSessionContainers: step('containers', 1) },
      firewall: { close: step('firewall', undefined) },
      files: { remove: step('files', undefined) },
    });
    return { remove, calls };
  }

  it('closes the doors first (routes, credentials), then removes the containers, the egress openings, then the files', async () => {
    const { remove, calls } = recording();
    expect(await remove('s-1')).toEqual({ removed: 1, revoked: 2 });
    expect(calls).toEqual(['routes:s-1', 'credentials:s-1', 'containers:s-1', 'firewall:s-1', 'files:s-1']);
  });

  it('stops at a failed step, so that a retry never removes the secrets of a container still running', async () => {
    const { remove, calls } = recording('containers');
    await expect(remove('s-1')).rejects.toThrow('containers failed');
    expect(calls).toEqual(['routes:s-1', 'credentials:s-1', 'containers:s-1']);
  });

  it('removes the container, its openings and files even when the credentials cannot be revoked, then fails to be retried', async () => {
    const { remove, calls } = recording('credentials');
    await expect(remove('s-1')).rejects.toMatchObject({ name: 'CredentialsNotRevokedError', message: /s-1 is removed but its browser credentials/ });
    expect(calls).toEqual(['routes:s-1', 'credentials:s-1', 'containers:s-1', 'firewall:s-1', 'files:s-1']);
  });
});
