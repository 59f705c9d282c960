/**
 * A warm container's claim on its node (activities/node-host-activities.ts), with in-memory
 * stand-ins: the token key it writes is the one the API gave with the slot (a node holds no secret
 * to derive it), and a slot without one, or a container that stopped, fails the claim (the
 * workflow then starts the session cold).
 */
import { describe, expect, it } from 'vitest';
import { ContainerExitedError } from '../../activities/errors.js';
import { nodeHostActivities, type NodeHostDeps } from '../../activities/node-host-activities.js';
import { testSessionSpec } from '../support/session-spec.js';
import type { WarmSlot } from '../../workflows/messages.js';

function host(running: boolean) {
  const done: string[] = [];
  const deps = {
    runtime: {
      inspect: async (id: string) => ({ id, running, exitCode: running ? null : 137, imageId: 'sha256:x', pid: 1 }),
      updateLimits: async (id: string, r: { memoryMb: number }) => void done.push(`limits:${id}:${r.memoryMb}`),
    },
    liveFiles: {
      writeTokenPublicKey: async (sessionId: string, hex: string) => void done.push(`token-key:${sessionId}:${hex}`),
      handOverUrl: async (sessionId: string, url: string) => void done.push(`url:${sessionId}:${url}`),
    },
    firewall: { open: async (sessionId: string) => void done.push(`egress:${sessionId}`) },
  } as unknown as NodeHostDeps;
  return { done, activities: nodeHostActivities(deps) };
}

const spec = testSessionSpec('img', { url: 'https://example.com/', resources: { memoryMb: 1280, cpus: 0.75, shmMb: 512, pidsLimit: 512 } });
const slot = (over: Partial<WarmSlot> = {}): WarmSlot => ({
  sessionId: spec.sessionId,
  app: 'firefox',
  quality: 'auto',
  containerId: 'c-1',
  containerName: 'hackstream-session-1',
  ip: '10.213.0.2',
  readyAt: 0,
  node: 'edge-1',
  tokenPublicKeyHex: 'ab12',
  ...over,
});

describe('claimWarmContainer', () => {
  it('writes the token key given with the slot, applies the user’s limits and hands over the page', async () => {
    const { done, activities } = host(true);
    expect(await activities.claimWarmContainer({ spec, slot: slot() })).toEqual({ id: 'c-1', name: 'hackstream-session-1', ip: '10.213.0.2' });
    expect(done.sort()).toEqual([`limits:c-1:1280`, `token-key:${spec.sessionId}:ab12`, `url:${spec.sessionId}:https://example.com/`]);
  });

  it('refuses a slot without its session’s token key, and a container that stopped', async () => {
    const withoutKey = host(true);
    await expect(withoutKey.activities.claimWarmContainer({ spec, slot: slot({ tokenPublicKeyHex: undefined }) })).rejects.toThrow(/without its session's token key/);
    expect(withoutKey.done).toEqual([]);
    const stopped = host(false);
    await expect(stopped.activities.claimWarmContainer({ spec, slot: slot() })).rejects.toBeInstanceOf(ContainerExitedError);
    expect(stopped.done).toEqual([]);
  });
});
