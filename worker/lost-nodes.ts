/**
 * Ends the sessions of session nodes that went silent: every HACKSTREAM_NODE_HEARTBEAT_SECONDS, the
 * nodes in service not heard from for three heartbeats are marked lost (core/node-registry.ts) and
 * each session holding a reservation there is told to stop with reason `node_lost` (its workflow
 * removes what the control side holds and gives the room back; the node's own reconciler removes
 * its containers when it is back). Every worker runs this loop: the registry's compare-and-set lets
 * exactly one of them act on each node.
 */
import type { Logger } from 'winston';
import type { NodeRegistry } from '../core/node-registry.js';
import { repeatEvery } from './repeat-every.js';

export interface LostNodeDeps {
  registry: Pick<NodeRegistry, 'markLost' | 'sessionsOn'>;
  sessions: { nodeLost(sessionId: string, node: string): Promise<void> };
  /** How often to look, and how long a node may be silent. */
  everySeconds: number;
  silentAfterSeconds: number;
  logger: Logger;
}

/** One look: the nodes it marked lost, with the sessions it ended. */
export async function endLostNodes(deps: LostNodeDeps, now = Date.now()): Promise<Array<{ node: string; sessions: string[] }>> {
  const lost = await deps.registry.markLost(new Date(now - deps.silentAfterSeconds * 1000));
  const out: Array<{ node: string; sessions: string[] }> = [];
  for (const node of lost) {
    const sessions = await deps.registry.sessionsOn(node);
    deps.logger.warn('session node lost: no heartbeat', { node, silentAfterSeconds: deps.silentAfterSeconds, sessions: sessions.length });
    for (const sessionId of sessions) {
      try {
        await deps.sessions.nodeLost(sessionId, node);
      } catch (err) {
        // Its reservation stays: the reconciler ends it once its workflow is gone, or the node returns.
        deps.logger.error('could not end a session of a lost node', { node, sessionId, error: String(err) });
      }
    }
    out.push({ node, sessions });
  }
  return out;
}

export function watchForLostNodes(deps: LostNodeDeps): { stop(): void } {
  return repeatEvery(deps.everySeconds, () =>
    endLostNodes(deps).then(
      () => undefined,
      (err: unknown) => void deps.logger.warn('could not look for lost session nodes', { error: String(err) }),
    ),
  );
}
