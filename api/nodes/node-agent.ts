/**
 * What a session node asks of the API itself (the `/v1/node-agent` routes): its enrolment, with
 * the public key it generated, and, once an admin has compared its fingerprint and approved it,
 * its client certificate from the node CA (asked again to renew it). Requests after enrolment are
 * authenticated by a short token signed with the node's key (core/node-identity.ts).
 */
import type { AuditLog } from '../../core/audit-log.js';
import type { FileCertificateAuthority } from '../../core/certificate-authority.js';
import type { NodeAuthorityConfig } from '../../core/config.js';
import { NodeRequestError, nodeCertificateName, nodeGatewayName, nodeTokenSubject, readNodeCertificateRequest, verifyNodeToken } from '../../core/node-identity.js';
import type { NodeCapacity, NodeRegistry } from '../../core/node-registry.js';
import { CONNECTABLE_NODE_STATES, type NodeState } from '../../core/node-names.js';
import { TUNNEL_LISTEN_HOST, type TunnelHostKey } from '../../core/node-tunnel.js';
import type { NodeCertificateBody, NodeEnrolmentBody, NodeHeartbeatBody } from '../contract/responses.js';
import { HttpError, unauthorized } from '../http-error.js';
import type { EnrolmentThrottle } from './enrolment-throttle.js';

/** How often a node waiting for approval asks again. */
export const PENDING_RETRY_SECONDS = 10;

export interface EnrolmentRequest {
  csr: string;
  labels: Record<string, string>;
  capacity: NodeCapacity;
}

/** A node whose signed token checked out. */
export interface AuthenticatedNode {
  id: string;
  state: NodeState;
  publicKeySpki: Uint8Array;
  tunnelPort: number | null;
}

export class NodeAgent {
  constructor(
    private readonly registry: Pick<NodeRegistry, 'enrol' | 'identity' | 'heartbeat' | 'returnFromLost'>,
    /** The node CA, created by whichever of the API and the gateway starts first. */
    private readonly ca: Pick<FileCertificateAuthority, 'ensure' | 'issueClientCertificate' | 'caCertificatePem'>,
    private readonly config: NodeAuthorityConfig,
    private readonly audit: Pick<AuditLog, 'record'>,
    private readonly throttle: Pick<EnrolmentThrottle, 'consume'>,
    /** The tunnel sshd's host key, which a node checks its tunnel against. */
    private readonly tunnelHostKey: Pick<TunnelHostKey, 'publicKey'>,
    /** Where a node's worker polls: the namespace and the control task queue its own queue is named after. */
    private readonly temporal: { namespace: string; taskQueue: string },
  ) {}

  async enrol(req: EnrolmentRequest, ip: string): Promise<{ status: 200 | 202; body: NodeEnrolmentBody }> {
    const wait = await this.throttle.consume(ip);
    if (wait !== null) throw new HttpError(429, 'too_many_enrolments', 'too many enrolments from this address; try again later', { 'Retry-After': String(wait) });
    let csr;
    try {
      csr = await readNodeCertificateRequest(req.csr);
    } catch (err) {
      if (err instanceof NodeRequestError) throw new HttpError(400, 'invalid_csr', `csr: ${err.message}`);
      throw err;
    }
    const result = await this.registry.enrol({ id: csr.nodeId, labels: req.labels, capacity: req.capacity, publicKeySpki: csr.publicKeySpki, fingerprint: csr.fingerprint });
    if (!result.ok && result.reason === 'name_taken') {
      throw new HttpError(409, 'node_exists', `a node named ${csr.nodeId} is already known with another key: enrol under another name, or have an admin revoke it first`);
    }
    if (!result.ok) throw new HttpError(429, 'too_many_pending_nodes', 'too many nodes are waiting for approval; ask an admin to approve or revoke them', { 'Retry-After': '60' });
    if (result.created) {
      await this.audit.record({ action: 'node.enrolled', actorId: null, targetType: 'node', targetId: csr.nodeId, sourceIp: ip, details: { fingerprint: csr.fingerprint } });
    }
    const { node } = result;
    return { status: node.state === 'pending' ? 202 : 200, body: { id: node.id, state: node.state, fingerprint: csr.fingerprint } };
  }

  /** The node a request's bearer token proves it is (its key signed it, it is not revoked). */
  async authenticate(authorization: string | undefined): Promise<AuthenticatedNode> {
    const token = /^Bearer ([A-Za-z0-9._-]+)$/.exec(authorization ?? '')?.[1];
    const id = token ? nodeTokenSubject(token) : null;
    const identity = id ? await this.registry.identity(id) : null;
    if (!token || !id || !identity || !(await verifyNodeToken(token, id, identity.publicKeySpki))) {
      throw unauthorized('a node token signed with an enrolled node key is required');
    }
    if (identity.state === 'revoked') throw new HttpError(403, 'node_revoked', `node ${id} is revoked`);
    return { id, ...identity };
  }

  /**
   * An edge node is alive (its worker reaches no database: it says so here, with its signed
   * token); the answer is the state it acts on: `draining` takes no new work, `lost` runs its
   * reconcile pass before it is back in service.
   */
  async heartbeat(node: AuthenticatedNode, opts: { reconciled: boolean }): Promise<NodeHeartbeatBody> {
    // A lost node back, which has removed what its lost sessions left (its reconcile pass), is in service again.
    if (opts.reconciled && (await this.registry.returnFromLost(node.id))) return { id: node.id, state: 'active' };
    const state = await this.registry.heartbeat(node.id);
    if (state === null) throw new HttpError(404, 'not_found', `node ${node.id} is not registered`);
    return { id: node.id, state };
  }

  /** A fresh certificate for an approved node; the state alone while it waits for approval. */
  async certificate(node: AuthenticatedNode, ip: string): Promise<{ status: 200 | 202; body: NodeCertificateBody }> {
    if (!CONNECTABLE_NODE_STATES.includes(node.state)) return { status: 202, body: { id: node.id, state: node.state } };
    await this.ca.ensure();
    const issued = await this.ca.issueClientCertificate({
      commonName: node.id,
      dnsNames: [nodeCertificateName(node.id, this.config.domain)],
      publicKeySpki: node.publicKeySpki,
      lifetimeSeconds: this.config.certificateSeconds,
    });
    await this.audit.record({ action: 'node.certificate_issued', actorId: null, targetType: 'node', targetId: node.id, sourceIp: ip, details: { not_after: issued.notAfter.toISOString() } });
    return {
      status: 200,
      body: {
        id: node.id,
        state: node.state,
        certificate: issued.certPem,
        not_after: issued.notAfter.toISOString(),
        ca_certificate: await this.ca.caCertificatePem(),
        gateway: { address: this.config.gateway.address, server_name: nodeGatewayName(this.config.domain) },
        temporal: { namespace: this.temporal.namespace, task_queue: this.temporal.taskQueue },
        ...(node.tunnelPort === null
          ? {}
          : { tunnel: { user: this.config.tunnel.user, listen: `${TUNNEL_LISTEN_HOST}:${node.tunnelPort}`, host_key: await this.tunnelHostKey.publicKey() } }),
      },
    };
  }
}
