/**
 * This worker as a session node (core/node-registry.ts): entered in the registry when it starts,
 * with its capacity and labels, then heard from every HACKSTREAM_NODE_HEARTBEAT_SECONDS. A node
 * that stops (killed, its host gone) is marked lost by the control plane once its heartbeats stop.
 */
import type { Logger } from 'winston';
import type { WorkerConfig } from '../core/config.js';
import type { NodeState } from '../core/node-names.js';
import type { NodeRegistry } from '../core/node-registry.js';
import { repeatEvery } from './repeat-every.js';

export interface NodePresenceDeps {
  registry: Pick<NodeRegistry, 'register' | 'heartbeat'>;
  node: WorkerConfig['node'];
  logger: Logger;
  /**
   * A node marked lost that hears back (its network was cut, not its worker): a reconcile pass is
   * started, which removes what its lost sessions left on this host (only what belongs to a
   * closed workflow, so new sessions placed meanwhile are safe), and the node is back in service.
   */
  beforeReturn: () => Promise<void>;
}

export async function startNodePresence(deps: NodePresenceDeps): Promise<{ stop(): void }> {
  const { registry, node, logger } = deps;
  const enter = () => registry.register({ id: node.id, labels: node.labels, capacity: node.capacity });
  const entered = await enter();
  let state: NodeState = entered.state;
  logger.info('session node registered', { node: node.id, state, labels: node.labels, capacity: node.capacity });
  if (state !== 'active') logger.warn('this node takes no new sessions until an admin changes its state', { node: node.id, state });
  let failing = false;
  const returnFromLost = async () => {
    logger.warn('this node was marked lost: collecting what its sessions left, and back in service', { node: node.id });
    await deps.beforeReturn();
    state = (await enter()).state;
  };
  const beat = async () => {
    const now = await registry.heartbeat(node.id);
    if (failing) logger.info('node heartbeats reach the registry again', { node: node.id });
    failing = false;
    if (now !== null && now !== state) logger.warn('node state changed', { node: node.id, from: state, to: now });
    if (now !== null) state = now;
    if (now === 'lost') await returnFromLost();
  };
  return repeatEvery(node.heartbeatSeconds, () =>
    beat().catch((err: unknown) => {
      // Logged once per outage: the next success says it is over.
      if (!failing) logger.warn('node heartbeat failed', { node: node.id, error: String(err) });
      failing = true;
    }),
  );
}
