/**
 * The audit log: one append-only row per security-relevant event. Writes happen inside the action
 * they record, before it answers: an audit write that fails fails the action (never a silent
 * loss). Events from session workflows are written by an activity with Temporal's retries.
 */
import { randomUUID } from 'node:crypto';
import { AuditEvent } from './db/entities.js';
import type { Database } from './db/orm.js';
import { encodePageCursor, olderThan, type PageCursor } from './page-cursor.js';
import type { AuditAction } from './audit-actions.js';

/** Every action the log records. */

export interface AuditRecord {
  /** Given by callers that may retry (workflow activities): the same id is recorded once. */
  id?: string;
  action: AuditAction;
  actorId?: string | null;
  actorName?: string | null;
  /** Whose account or session it concerns. */
  userId?: string | null;
  targetType?: 'user' | 'session' | 'role' | 'node' | 'profile' | null;
  targetId?: string | null;
  sourceIp?: string | null;
  details?: Record<string, unknown> | null;
}

export interface AuditQuery {
  userId?: string;
  action?: AuditAction;
  since?: Date;
  until?: Date;
  limit: number;
  /** Where the previous page ended (decodePageCursor of its `next_cursor`). */
  cursor?: PageCursor;
}

export interface AuditEntry {
  id: string;
  occurred_at: string;
  action: string;
  actor_id: string | null;
  actor_name: string | null;
  user_id: string | null;
  target_type: string | null;
  target_id: string | null;
  source_ip: string | null;
  details: Record<string, unknown> | null;
}

export class AuditLog {
  constructor(private readonly db: Database) {}

  async record(r: AuditRecord): Promise<void> {
    const em = this.db.em.fork();
    if (r.id && (await em.count(AuditEvent, { id: r.id })) > 0) return; // a retried write
    em.create(AuditEvent, {
      id: r.id ?? randomUUID(),
      occurredAt: new Date(),
      action: r.action,
      actorId: r.actorId ?? null,
      actorName: r.actorName ?? null,
      userId: r.userId ?? null,
      targetType: r.targetType ?? null,
      targetId: r.targetId ?? null,
      sourceIp: r.sourceIp ?? null,
      details: r.details ?? null,
    });
    await em.flush();
  }

  /** Newest first. An event matches `userId` when that user did it or it concerns them. */
  async query(q: AuditQuery): Promise<{ events: AuditEntry[]; nextCursor: string | null }> {
    const where: Record<string, unknown>[] = [];
    if (q.userId) where.push({ $or: [{ actorId: q.userId }, { userId: q.userId }] });
    if (q.action) where.push({ action: q.action });
    if (q.since) where.push({ occurredAt: { $gte: q.since } });
    if (q.until) where.push({ occurredAt: { $lt: q.until } });
    if (q.cursor) where.push(olderThan('occurredAt', q.cursor));
    const rows = await this.db.em
      .fork()
      .find(AuditEvent, where.length ? { $and: where } : {}, { orderBy: [{ occurredAt: 'desc' }, { id: 'desc' }], limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    return {
      events: page.map((e) => ({
        id: e.id,
        occurred_at: e.occurredAt.toISOString(),
        action: e.action,
        actor_id: e.actorId ?? null,
        actor_name: e.actorName ?? null,
        user_id: e.userId ?? null,
        target_type: e.targetType ?? null,
        target_id: e.targetId ?? null,
        source_ip: e.sourceIp ?? null,
        details: e.details ?? null,
      })),
      nextCursor: rows.length > q.limit ? encodePageCursor(page.at(-1)!.occurredAt, page.at(-1)!.id) : null,
    };
  }
}
