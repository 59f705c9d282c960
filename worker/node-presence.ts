/**
 * This worker as a session node (core/node-registry.ts): entered in the registry when it starts,
 * with its capacity and labels, then heard from every HACKSTREAM_NODE_HEARTBEAT_SECONDS. A node
 * that stops (killed, its host gone) is marked lost by the control plane once its heartbeats stop.
 */
import type { Logger } from 'winston';
import type { WorkerConfig } from '../core/config.js';
import type { NodeRegistry, NodeState } from '../core/node-registry.js';

export interface NodePresence {
  /** The node's state as last heard back from the registry. */
  state(): NodeState;
  stop(): void;
}

export async function startNodePresence(deps: { registry: Pick<NodeRegistry, 'register' | 'heartbeat'>; node: WorkerConfig['node']; logger: Logger }): Promise<NodePresence> {
  const { registry, node, logger } = deps;
  const entered = await registry.register({ id: node.id, labels: node.labels, capacity: node.capacity });
  let state: NodeState = entered.state;
  logger.info('session node registered', { node: node.id, state, labels: node.labels, capacity: node.capacity });
  if (state !== 'active') logger.warn('this node takes no new sessions until an admin changes its state', { node: node.id, state });
  let failing = false;
  const timer = setInterval(() => {
    registry.heartbeat(node.id).then(
      (now) => {
        if (failing) logger.info('node heartbeats reach the registry again', { node: node.id });
        failing = false;
        if (now !== null && now !== state) logger.warn('node state changed', { node: node.id, from: state, to: now });
        if (now !== null) state = now;
      },
      (err: unknown) => {
        // Logged once per outage: the next success says it is over.
        if (!failing) logger.warn('node heartbeat failed', { node: node.id, error: String(err) });
        failing = true;
      },
    );
  }, node.heartbeatSeconds * 1000);
  timer.unref();
  return { state: () => state, stop: () => clearInterval(timer) };
}
