/** Ending the sessions of silent nodes (worker/lost-nodes.ts), with an in-memory registry. */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { endLostNodes } from '../../worker/lost-nodes.js';

const logger = createLogger({ level: 'error', service: 'lost-nodes-test', json: false });

function world(silent: Record<string, string[]>, failing: string[] = []) {
  const cutoffs: Date[] = [];
  const told: string[] = [];
  const deps = {
    registry: {
      markLost: async (since: Date) => {
        cutoffs.push(since);
        return Object.keys(silent);
      },
      sessionsOn: async (node: string) => silent[node] ?? [],
    },
    sessions: {
      nodeLost: async (sessionId: string, node: string) => {
        if (failing.includes(sessionId)) throw new Error('Temporal unreachable');
        told.push(`${node}:${sessionId}`);
      },
    },
    everySeconds: 10,
    silentAfterSeconds: 30,
    logger,
  };
  return { deps, cutoffs, told };
}

describe('lost session nodes', () => {
  it('marks lost what was silent for the allowed time, and tells each of its sessions', async () => {
    const w = world({ beta: ['s1', 's2'], gamma: [] });
    const now = Date.parse('2026-12-02T10:00:00Z');
    expect(await endLostNodes(w.deps, now)).toEqual([
      { node: 'beta', sessions: ['s1', 's2'] },
      { node: 'gamma', sessions: [] },
    ]);
    expect(w.cutoffs).toEqual([new Date(now - 30_000)]);
    expect(w.told).toEqual(['beta:s1', 'beta:s2']);
  });

  it('goes on to the other sessions when one cannot be told (the reconciler ends it later)', async () => {
    const w = world({ beta: ['s1', 's2', 's3'] }, ['s2']);
    await endLostNodes(w.deps);
    expect(w.told).toEqual(['beta:s1', 'beta:s3']);
  });

  it('does nothing when every node is heard from', async () => {
    const w = world({});
    expect(await endLostNodes(w.deps)).toEqual([]);
    expect(w.told).toEqual([]);
  });
});
