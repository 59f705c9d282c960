/**
 * The `sessions` table, the one client of it: the API reserves a row under the user's quota lock
 * and reads rows for listings and ownership checks; the session workflow writes its snapshot on
 * every state change (through the `recordSession` activity). Rows are read back as snapshots, so
 * callers never see the entity's column types.
 */
import type { Profile } from './catalog.js';
import type { Database } from './db/orm.js';
import { Session } from './db/entities.js';
import { FINAL_STATES, LIVE_STATES, type EndReason, type LiveState, type SessionSnapshot, type SessionStart, type SessionState } from './session-snapshot.js';
import { encodePageCursor, olderThan, type PageCursor } from './page-cursor.js';

/** Which sessions a listing shows: one user's (null: everyone's), optionally by state and app. */
export interface SessionListFilter {
  userId: string | null;
  state?: SessionState | 'live' | undefined;
  app?: string | undefined;
}

/** What the API knows of a session before its workflow starts. */
export type SessionReservation = Pick<SessionSnapshot, 'sessionId' | 'userId' | 'app' | 'url' | 'quality' | 'requestedAt'> & { profile?: Profile };

const toDate = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));
const toMs = (d: Date | null | undefined): number | null => (d ? d.getTime() : null);
const notFinal = { $nin: [...FINAL_STATES] };

/** A row read as the snapshot it was written from (the clocks the row does not keep are null). */
function rowSnapshot(row: Session): SessionSnapshot {
  return {
    sessionId: row.id,
    userId: row.userId,
    app: row.app,
    state: row.state as SessionSnapshot['state'],
    reason: (row.reason ?? null) as SessionSnapshot['reason'],
    message: row.message ?? null,
    url: row.url ?? null,
    quality: row.quality as SessionSnapshot['quality'],
    container:
      row.containerId && row.containerName && row.containerIp ? { id: row.containerId, name: row.containerName, ip: row.containerIp } : null,
    requestedAt: row.requestedAt.getTime(),
    startedAt: row.requestedAt.getTime(),
    readyAt: toMs(row.readyAt),
    attachedAt: toMs(row.attachedAt),
    lastActivityAt: null,
    endedAt: toMs(row.endedAt),
    ...(row.start === 'warm' || row.start === 'cold' ? { start: row.start } : {}),
    ...(row.nodeId ? { node: row.nodeId } : {}),
  };
}

export class SessionRows {
  constructor(private readonly db: Database) {}

  /** Writes the row of a session about to start: counted against the user's quota from now on. */
  async reserve(r: SessionReservation): Promise<void> {
    const em = this.db.em.fork();
    em.create(Session, {
      id: r.sessionId,
      userId: r.userId,
      app: r.app,
      state: 'provisioning',
      url: r.url,
      quality: r.quality,
      requestedAt: new Date(r.requestedAt),
      profile: r.profile ?? 'ephemeral',
    });
    await em.flush();
  }

  /** Gives a reservation back when its workflow never started (the workflow owns the row otherwise). */
  async failReservation(sessionId: string, message: string): Promise<void> {
    await this.db.em
      .fork()
      .nativeUpdate(Session, { id: sessionId, state: 'provisioning' }, { state: 'failed', reason: 'provision_failed', message, endedAt: new Date() });
  }

  /**
   * The workflow's snapshot: the first write creates the row, later ones (and retries) overwrite
   * it. True when this write ended the session (its row was not final before): a retried write of
   * the same end is not a second end.
   */
  async record(s: SessionSnapshot): Promise<boolean> {
    const em = this.db.em.fork();
    // Read before the write (the upsert updates the entity this read put in `em`).
    const stateBefore = FINAL_STATES.includes(s.state) ? ((await em.findOne(Session, { id: s.sessionId }, { fields: ['state'] }))?.state ?? null) : null;
    await em.upsert(Session, {
      id: s.sessionId,
      userId: s.userId,
      app: s.app,
      state: s.state,
      reason: s.reason,
      message: s.message,
      url: s.url,
      quality: s.quality,
      containerId: s.container?.id ?? null,
      containerName: s.container?.name ?? null,
      containerIp: s.container?.ip ?? null,
      requestedAt: new Date(s.requestedAt),
      readyAt: toDate(s.readyAt),
      attachedAt: toDate(s.attachedAt),
      endedAt: toDate(s.endedAt),
      start: s.start ?? null,
      nodeId: s.node ?? null,
      updatedAt: new Date(),
    });
    return FINAL_STATES.includes(s.state) && !FINAL_STATES.includes((stateBefore ?? 'provisioning') as SessionState);
  }

  /** How many sessions are in each state that is not final, every user's. */
  async countLive(): Promise<Record<LiveState, number>> {
    const em = this.db.em.fork();
    const counts = await Promise.all(LIVE_STATES.map((state) => em.count(Session, { state })));
    return Object.fromEntries(LIVE_STATES.map((state, i) => [state, counts[i]!])) as Record<LiveState, number>;
  }

  async find(sessionId: string): Promise<SessionSnapshot | null> {
    const row = await this.db.em.fork().findOne(Session, { id: sessionId });
    return row ? rowSnapshot(row) : null;
  }

  /** A page, newest first; every user's when `userId` is null; `live`: any state but the final ones. */
  async list(opts: SessionListFilter & { limit: number; cursor?: PageCursor | undefined }): Promise<{ sessions: SessionSnapshot[]; nextCursor: string | null }> {
    const where: Record<string, unknown>[] = [];
    if (opts.userId !== null) where.push({ userId: opts.userId });
    if (opts.state === 'live') where.push({ state: notFinal });
    else if (opts.state) where.push({ state: opts.state });
    if (opts.app) where.push({ app: opts.app });
    if (opts.cursor) where.push(olderThan('requestedAt', opts.cursor));
    const rows = await this.db.em
      .fork()
      .find(Session, where.length ? { $and: where } : {}, { orderBy: [{ requestedAt: 'desc' }, { id: 'desc' }], limit: opts.limit + 1 });
    const page = rows.slice(0, opts.limit);
    const last = page.at(-1);
    return { sessions: page.map(rowSnapshot), nextCursor: rows.length > opts.limit && last ? encodePageCursor(last.requestedAt, last.id) : null };
  }

  /** Start latencies (request to ready, ms) of the sessions that became ready since `since`, by how they started. */
  async startLatencies(since: Date): Promise<Array<{ start: SessionStart; app: string; quality: string; ms: number }>> {
    const rows = await this.db.em
      .fork()
      .find(Session, { readyAt: { $gte: since }, start: { $in: ['warm', 'cold'] } }, { fields: ['start', 'app', 'quality', 'requestedAt', 'readyAt'] });
    return rows.map((r) => ({ start: r.start as SessionStart, app: r.app, quality: r.quality, ms: r.readyAt!.getTime() - r.requestedAt.getTime() }));
  }

  /** Of these session ids, those whose row is not final (claimed or running sessions). */
  async live(sessionIds: string[]): Promise<Set<string>> {
    if (sessionIds.length === 0) return new Set();
    const rows = await this.db.em.fork().find(Session, { id: { $in: sessionIds }, state: notFinal }, { fields: ['id'] });
    return new Set(rows.map((r) => r.id));
  }

  /**
   * The sessions whose app runs on this node, each with its container: what the node worker's
   * session monitor watches (ready: nobody attached yet; active). Oldest first.
   */
  async watchable(node: string): Promise<Array<{ sessionId: string; containerId: string }>> {
    // A session on another node has its container on another engine; one placed before nodes existed is on every worker's.
    const rows = await this.db.em
      .fork()
      .find(
        Session,
        { state: { $in: ['ready', 'active'] }, containerId: { $ne: null }, $or: [{ nodeId: node }, { nodeId: null }] },
        { fields: ['id', 'containerId'], orderBy: { requestedAt: 'asc' } },
      );
    return rows.map((r) => ({ sessionId: r.id, containerId: r.containerId! }));
  }

  /** The ids of a user's sessions that are not final. */
  async liveOf(userId: string): Promise<string[]> {
    const rows = await this.db.em.fork().find(Session, { userId, state: notFinal }, { fields: ['id'] });
    return rows.map((r) => r.id);
  }

  /** Every row that is not final, oldest first. */
  async nonFinal(): Promise<Array<{ sessionId: string; userId: string; state: SessionSnapshot['state']; requestedAt: number }>> {
    const rows = await this.db.em.fork().find(Session, { state: notFinal }, { fields: ['id', 'userId', 'state', 'requestedAt'], orderBy: { requestedAt: 'asc' } });
    return rows.map((r) => ({ sessionId: r.id, userId: r.userId, state: r.state as SessionSnapshot['state'], requestedAt: r.requestedAt.getTime() }));
  }

  /**
   * Ends the row of a session whose workflow is gone (the reconciler): `failed`, with the reason
   * and message given. A row already final is left as it is; returns whether this one changed.
   */
  async finaliseLost(sessionId: string, reason: EndReason, message: string): Promise<boolean> {
    const changed = await this.db.em
      .fork()
      .nativeUpdate(Session, { id: sessionId, state: notFinal }, { state: 'failed', reason, message, endedAt: new Date(), updatedAt: new Date() });
    return changed > 0;
  }

  async countLiveOf(userId: string): Promise<number> {
    return this.db.em.fork().count(Session, { userId, state: notFinal });
  }

  /**
   * The user's session that has their profile of `app` now, or null: a persistent session's row
   * holds the profile until it is final, which its workflow writes only after its container and
   * the profile's mount are gone (and the reconciler, for a session whose workflow is lost).
   */
  async profileHolder(userId: string, app: string): Promise<string | null> {
    const row = await this.db.em.fork().findOne(Session, { userId, app, profile: 'persist', state: notFinal }, { fields: ['id'] });
    return row?.id ?? null;
  }
}
