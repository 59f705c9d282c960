/**
 * The `nodes` and `node_reservations` tables, the one client of them: the session nodes (workers
 * that each drive one engine's containers), their state and capacity, and what each session
 * holds of its node. A placement is one conditional UPDATE of the node's counters (it succeeds
 * only while the demand still fits), and its reservation row is written in the same transaction:
 * two placements never overbook a node, on SQLite and on PostgreSQL alike, without locks held
 * across a read. A reservation is released once, by the deletion of its row.
 */
import { raw, type EntityManager } from '@mikro-orm/sql';
import type { Database } from './db/orm.js';
import { Node, NodeReservation } from './db/entities.js';
import { CONNECTABLE_NODE_STATES, type NodeState, type PlacementStrategy } from './node-names.js';
import { TUNNEL_PORTS, type TunnelNode } from './node-tunnel.js';

/** What an admin may do to a node, from which states, and the state it leaves the node in. */
export const NODE_ACTIONS = {
  /** Into service: a node enrolled and waiting, or a drained one back. */
  approve: { from: ['pending', 'draining'], to: 'active' },
  /** No new sessions; the running ones finish. */
  drain: { from: ['active', 'lost'], to: 'draining' },
  /** Never again: its sessions are placed nowhere and its credentials are refused. */
  revoke: { from: ['pending', 'active', 'draining', 'lost'], to: 'revoked' },
} as const satisfies Record<string, { from: readonly NodeState[]; to: NodeState }>;
export type NodeAction = keyof typeof NODE_ACTIONS;

export interface NodeCapacity {
  memoryMb: number;
  cpus: number;
  maxSessions: number;
}

export interface NodeView {
  id: string;
  labels: Record<string, string>;
  state: NodeState;
  capacity: NodeCapacity;
  reserved: { memoryMb: number; cpus: number; sessions: number };
  lastHeartbeatAt: number | null;
  /** An enrolled node's key fingerprint (core/node-identity.ts); null for an installed one. */
  fingerprint: string | null;
  /** An approved enrolled node's reverse port for its tunnel (core/node-tunnel.ts). */
  tunnelPort: number | null;
  createdAt: number;
}

/** What a node enrolling says of itself, and the key it proved it holds. */
export interface NodeEnrolment {
  id: string;
  labels: Record<string, string>;
  capacity: NodeCapacity;
  publicKeySpki: Uint8Array;
  fingerprint: string;
}

export type NodeEnrolmentResult =
  | { ok: true; node: NodeView; created: boolean }
  /** The name is taken by another key, or by a node installed without one. */
  | { ok: false; reason: 'name_taken' }
  | { ok: false; reason: 'too_many_pending' };

/** Enrolments waiting for an admin beyond this are refused: nobody can fill the table unasked. */
export const MAX_PENDING_NODES = 64;

/** What a session needs of a node, and where it may go. */
export interface PlacementRequest {
  sessionId: string;
  memoryMb: number;
  cpus: number;
  /** Every one of these must be among the node's labels, with the same value. */
  labels: Record<string, string>;
  /** `binpack` fills the fullest node that fits first; `spread` the emptiest. */
  strategy: PlacementStrategy;
  /** Nodes tried before all others (those with a warm container ready), in this order. */
  preferred: readonly string[];
  /** Only nodes heard from at or after this time are placed on. */
  aliveSince: Date;
  /** When set, the only nodes it may be placed on (a persistent profile's node). */
  only?: readonly string[];
}

export type NodeActionResult = { ok: true; node: NodeView } | { ok: false; reason: 'not_found' } | { ok: false; reason: 'invalid_transition'; state: NodeState };

const millis = (cpus: number) => Math.round(cpus * 1000);

function view(row: Node): NodeView {
  return {
    id: row.id,
    labels: row.labels,
    state: row.state as NodeState,
    capacity: { memoryMb: row.memoryMb, cpus: row.cpuMillis / 1000, maxSessions: row.maxSessions },
    reserved: { memoryMb: row.reservedMemoryMb, cpus: row.reservedCpuMillis / 1000, sessions: row.reservedSessions },
    lastHeartbeatAt: row.lastHeartbeatAt?.getTime() ?? null,
    fingerprint: row.fingerprint ?? null,
    tunnelPort: row.tunnelPort ?? null,
    createdAt: row.createdAt.getTime(),
  };
}

const hasLabels = (node: Node, wanted: Record<string, string>) => Object.entries(wanted).every(([k, v]) => node.labels[k] === v);

export class NodeRegistry {
  constructor(private readonly db: Database) {}

  /**
   * A node worker's start: a new node is entered active (a worker that reaches the database was
   * installed by the operator), a known one gets its capacity and labels updated, and one that
   * was marked lost is back in service. Pending and revoked nodes stay as they are.
   */
  async register(node: { id: string; labels: Record<string, string>; capacity: NodeCapacity }, now = new Date()): Promise<NodeView> {
    const em = this.db.em.fork();
    const capacity = { memoryMb: node.capacity.memoryMb, cpuMillis: millis(node.capacity.cpus), maxSessions: node.capacity.maxSessions };
    let row = await em.findOne(Node, { id: node.id });
    if (!row) {
      row = em.create(Node, { id: node.id, labels: node.labels, state: 'active', ...capacity, lastHeartbeatAt: now });
    } else {
      em.assign(row, { labels: node.labels, ...capacity, lastHeartbeatAt: now, ...(row.state === 'lost' ? { state: 'active' } : {}) });
    }
    await em.flush();
    return view(row);
  }

  /**
   * A node's enrolment: a new name is entered `pending` with its key, for an admin to approve; the
   * same name and key again (a retried request) gets the node as it is; a name taken by another
   * key is refused (a node's identity is its key: a new key is a new node name, or a revoke first).
   */
  async enrol(node: NodeEnrolment): Promise<NodeEnrolmentResult> {
    const em = this.db.em.fork();
    // A name already there: a retry with the same key, or someone else's.
    const known = (row: Node): NodeEnrolmentResult => (row.fingerprint === node.fingerprint ? { ok: true, node: view(row), created: false } : { ok: false, reason: 'name_taken' });
    const existing = await em.findOne(Node, { id: node.id });
    if (existing) return known(existing);
    if ((await em.count(Node, { state: 'pending' })) >= MAX_PENDING_NODES) return { ok: false, reason: 'too_many_pending' };
    const row = em.create(Node, {
      id: node.id,
      labels: node.labels,
      state: 'pending',
      memoryMb: node.capacity.memoryMb,
      cpuMillis: millis(node.capacity.cpus),
      maxSessions: node.capacity.maxSessions,
      lastHeartbeatAt: null,
      publicKey: Buffer.from(node.publicKeySpki).toString('base64'),
      fingerprint: node.fingerprint,
    });
    try {
      await em.flush();
    } catch (err) {
      // Two enrolments of one name at once: the primary key let one in; the other is a retry or a clash.
      const winner = await this.db.em.fork().findOne(Node, { id: node.id });
      if (!winner) throw err;
      return known(winner);
    }
    return { ok: true, node: view(row), created: true };
  }

  /** An enrolled node's state and public key (DER SPKI), what its signed requests are checked with. */
  async identity(id: string): Promise<{ state: NodeState; publicKeySpki: Uint8Array; fingerprint: string; tunnelPort: number | null } | null> {
    const row = await this.db.em.fork().findOne(Node, { id });
    if (!row?.publicKey || !row.fingerprint) return null;
    return { state: row.state as NodeState, publicKeySpki: new Uint8Array(Buffer.from(row.publicKey, 'base64')), fingerprint: row.fingerprint, tunnelPort: row.tunnelPort ?? null };
  }

  /** A lost node that has reconciled its engine is in service again (an edge node's return); false when it was not lost. */
  async returnFromLost(id: string, now = new Date()): Promise<boolean> {
    return (await this.db.em.fork().nativeUpdate(Node, { id, state: 'lost' }, { state: 'active', lastHeartbeatAt: now, updatedAt: now })) === 1;
  }

  /** A node is alive; returns its state (null: unknown), which the node acts on (revoked: stop). */
  async heartbeat(id: string, now = new Date()): Promise<NodeState | null> {
    const em = this.db.em.fork();
    await em.nativeUpdate(Node, { id }, { lastHeartbeatAt: now });
    const row = await em.findOne(Node, { id });
    return (row?.state as NodeState | undefined) ?? null;
  }

  async list(): Promise<NodeView[]> {
    return (await this.db.em.fork().find(Node, {}, { orderBy: { id: 'asc' } })).map(view);
  }

  async get(id: string): Promise<NodeView | null> {
    const row = await this.db.em.fork().findOne(Node, { id });
    return row ? view(row) : null;
  }

  /**
   * An admin's action; only from the states NODE_ACTIONS allows (compare-and-set on the state).
   * An enrolled node approved gets its tunnel port; a revoked one gives it back.
   */
  async act(id: string, action: NodeAction): Promise<NodeActionResult> {
    const em = this.db.em.fork();
    const { from, to } = NODE_ACTIONS[action];
    const changed = await em.nativeUpdate(Node, { id, state: { $in: [...from] } }, { state: to, updatedAt: new Date(), ...(to === 'revoked' ? { tunnelPort: null } : {}) });
    const row = await em.findOne(Node, { id });
    if (!row) return { ok: false, reason: 'not_found' };
    if (changed !== 1) return { ok: false, reason: 'invalid_transition', state: row.state as NodeState };
    if (to === 'active' && row.publicKey && row.tunnelPort == null) row.tunnelPort = await this.assignTunnelPort(id);
    return { ok: true, node: view(row) };
  }

  /** The lowest free port of TUNNEL_PORTS; the unique index settles two approvals at once (the loser tries the next). */
  private async assignTunnelPort(id: string): Promise<number> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const em = this.db.em.fork();
      const used = new Set((await em.find(Node, { tunnelPort: { $ne: null } }, { fields: ['tunnelPort'] })).map((n) => n.tunnelPort));
      let port = TUNNEL_PORTS.first;
      while (used.has(port)) port++;
      if (port >= TUNNEL_PORTS.first + TUNNEL_PORTS.count) throw new Error(`every tunnel port (${TUNNEL_PORTS.first}–${TUNNEL_PORTS.first + TUNNEL_PORTS.count - 1}) is taken`);
      try {
        await em.nativeUpdate(Node, { id, tunnelPort: null }, { tunnelPort: port });
      } catch {
        continue; // another node took it a moment ago
      }
      const now = await em.fork().findOne(Node, { id });
      if (now?.tunnelPort != null) return now.tunnelPort;
    }
    throw new Error(`could not give node ${id} a tunnel port`);
  }

  /** The tunnel port of the node a session is placed on, when that node is an enrolled one with a tunnel. */
  async tunnelPortOfSession(sessionId: string): Promise<number | null> {
    const held = await this.db.em.fork().findOne(NodeReservation, { sessionId });
    return held ? this.tunnelPortOf(held.nodeId) : null;
  }

  /** The node's tunnel port, when it is an enrolled node with a tunnel. */
  async tunnelPortOf(nodeId: string): Promise<number | null> {
    return (await this.db.em.fork().findOne(Node, { id: nodeId }))?.tunnelPort ?? null;
  }

  /** The enrolled nodes that may hold their tunnel now (the tunnel sshd's authorized keys). */
  async tunnelNodes(): Promise<TunnelNode[]> {
    const rows = await this.db.em.fork().find(Node, { state: { $in: [...CONNECTABLE_NODE_STATES] }, tunnelPort: { $ne: null }, publicKey: { $ne: null } }, { orderBy: { id: 'asc' } });
    return rows.map((r) => ({ id: r.id, publicKeySpki: new Uint8Array(Buffer.from(r.publicKey!, 'base64')), tunnelPort: r.tunnelPort! }));
  }

  /**
   * The nodes a session with this demand would be placed on now, in placement order: where the
   * API looks for a warm container first (the session is then placed on that node if it still fits).
   */
  async placementOrder(req: Omit<PlacementRequest, 'sessionId' | 'preferred'>): Promise<string[]> {
    return (await this.candidates(this.db.em.fork(), { ...req, preferred: [] })).map((n) => n.id);
  }

  /** Active nodes heard from recently, with the labels asked for and room for the demand, best first. */
  private async candidates(em: EntityManager, req: Omit<PlacementRequest, 'sessionId'>): Promise<Node[]> {
    const cpuMillis = millis(req.cpus);
    const candidates = (await em.find(Node, { state: 'active', lastHeartbeatAt: { $gte: req.aliveSince } }))
      .filter((n) => hasLabels(n, req.labels) && (req.only === undefined || req.only.includes(n.id)))
      .filter((n) => n.reservedMemoryMb + req.memoryMb <= n.memoryMb && n.reservedCpuMillis + cpuMillis <= n.cpuMillis && n.reservedSessions < n.maxSessions);
    const free = (n: Node) => n.memoryMb - n.reservedMemoryMb;
    const rank = (n: Node) => {
      const i = req.preferred.indexOf(n.id);
      return i < 0 ? req.preferred.length : i;
    };
    return candidates.sort((a, b) => rank(a) - rank(b) || (req.strategy === 'binpack' ? free(a) - free(b) : free(b) - free(a)) || a.id.localeCompare(b.id));
  }

  /**
   * Reserves the session's demand on the first node that takes it: active, heard from recently,
   * with the labels asked for, preferred nodes first, then by free memory (`binpack`: the least
   * that fits; `spread`: the most). Returns the node, or null when nothing fits. A session placed
   * before (a retried placement) gets the node it has.
   */
  async place(req: PlacementRequest): Promise<string | null> {
    const em = this.db.em.fork();
    const held = await em.findOne(NodeReservation, { sessionId: req.sessionId });
    if (held) return held.nodeId;
    const memoryMb = req.memoryMb;
    const cpuMillis = millis(req.cpus);
    const candidates = await this.candidates(em, req);
    for (const node of candidates) {
      // What was read above may be stale: the UPDATE checks the fit again, atomically.
      const placed = await em.transactional(async (tx) => {
        const taken = await tx.nativeUpdate(
          Node,
          {
            id: node.id,
            state: 'active',
            [raw('reserved_memory_mb + ?', [memoryMb])]: { $lte: raw('memory_mb') },
            [raw('reserved_cpu_millis + ?', [cpuMillis])]: { $lte: raw('cpu_millis') },
            [raw('reserved_sessions + 1')]: { $lte: raw('max_sessions') },
          },
          {
            reservedMemoryMb: raw('reserved_memory_mb + ?', [memoryMb]),
            reservedCpuMillis: raw('reserved_cpu_millis + ?', [cpuMillis]),
            reservedSessions: raw('reserved_sessions + 1'),
          },
        );
        if (taken !== 1) return false;
        tx.create(NodeReservation, { sessionId: req.sessionId, nodeId: node.id, memoryMb, cpuMillis });
        await tx.flush();
        return true;
      });
      if (placed) return node.id;
    }
    return null;
  }

  /** Gives the session's reservation back (once: a second call finds no row and does nothing). */
  async release(sessionId: string): Promise<boolean> {
    return this.db.em.fork().transactional(async (tx) => {
      const held = await tx.findOne(NodeReservation, { sessionId });
      if (!held) return false;
      if ((await tx.nativeDelete(NodeReservation, { sessionId })) !== 1) return false;
      await tx.nativeUpdate(
        Node,
        { id: held.nodeId },
        {
          reservedMemoryMb: raw('reserved_memory_mb - ?', [held.memoryMb]),
          reservedCpuMillis: raw('reserved_cpu_millis - ?', [held.cpuMillis]),
          reservedSessions: raw('reserved_sessions - 1'),
        },
      );
      return true;
    });
  }

  /** Every reservation, with when it was made (what the reconciler compares with running workflows). */
  async reservations(): Promise<Array<{ sessionId: string; nodeId: string; since: number }>> {
    return (await this.db.em.fork().find(NodeReservation, {})).map((r) => ({ sessionId: r.sessionId, nodeId: r.nodeId, since: r.createdAt.getTime() }));
  }

  /** The sessions holding a reservation on a node. */
  async sessionsOn(nodeId: string): Promise<string[]> {
    return (await this.db.em.fork().find(NodeReservation, { nodeId }, { orderBy: { sessionId: 'asc' } })).map((r) => r.sessionId);
  }

  /**
   * Marks lost the nodes in service that were heard from, but not since `silentSince`; returns
   * them. (An approved node never heard from yet is not lost: no session was ever placed on it.)
   */
  async markLost(silentSince: Date): Promise<string[]> {
    const em = this.db.em.fork();
    const silent = await em.find(Node, { state: { $in: ['active', 'draining'] }, lastHeartbeatAt: { $lt: silentSince } });
    const lost: string[] = [];
    for (const node of silent) {
      const changed = await em.nativeUpdate(Node, { id: node.id, state: node.state, lastHeartbeatAt: node.lastHeartbeatAt }, { state: 'lost', updatedAt: new Date() });
      if (changed === 1) lost.push(node.id);
    }
    return lost;
  }
}
