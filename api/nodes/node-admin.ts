/**
 * The admins' view of the session nodes and their three decisions (approve, drain, revoke), each
 * recorded in the audit log. The registry (core/node-registry.ts) holds the rules of which state
 * may follow which.
 */
import type { AuditLog } from '../../core/audit-log.js';
import type { AuditAction } from '../../core/audit-actions.js';
import type { NodeAction, NodeRegistry, NodeView } from '../../core/node-registry.js';
import type { NodeListBody, NodeViewBody } from '../contract/responses.js';
import { HttpError } from '../http-error.js';
import type { AuthenticatedUser } from '../request-context.js';

const AUDITED: Record<NodeAction, AuditAction> = { approve: 'node.approved', drain: 'node.drained', revoke: 'node.revoked' };
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function nodeBody(n: NodeView): NodeViewBody {
  return {
    id: n.id,
    state: n.state,
    labels: n.labels,
    capacity: { memory_mb: n.capacity.memoryMb, cpus: n.capacity.cpus, sessions: n.capacity.maxSessions },
    reserved: { memory_mb: n.reserved.memoryMb, cpus: n.reserved.cpus, sessions: n.reserved.sessions },
    last_heartbeat_at: iso(n.lastHeartbeatAt),
    fingerprint: n.fingerprint,
    created_at: new Date(n.createdAt).toISOString(),
  };
}

export class NodeAdmin {
  constructor(
    private readonly registry: Pick<NodeRegistry, 'list' | 'act'>,
    private readonly audit: Pick<AuditLog, 'record'>,
  ) {}

  async list(): Promise<NodeListBody> {
    return { nodes: (await this.registry.list()).map(nodeBody) };
  }

  async act(actor: AuthenticatedUser, id: string, action: NodeAction, ip: string): Promise<NodeViewBody> {
    const result = await this.registry.act(id, action);
    if (!result.ok && result.reason === 'not_found') throw new HttpError(404, 'node_not_found', `no node named ${id}`);
    if (!result.ok) throw new HttpError(409, 'invalid_node_state', `node ${id} is ${result.state}: it cannot be ${AUDITED[action].split('.')[1]} from that state`);
    await this.audit.record({ action: AUDITED[action], actorId: actor.id, targetType: 'node', targetId: id, sourceIp: ip, details: { state: result.node.state } });
    return nodeBody(result.node);
  }
}
