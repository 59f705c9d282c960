/**
 * The JSON shape of a session in API responses (snake_case), from a row or a live snapshot.
 * Connect descriptors carry one-time credentials and are added only where they are issued.
 */
import type { Session } from '../../core/db/entities.js';
import type { SessionSnapshot } from '../../workflows/messages.js';

export interface SessionView {
  session_id: string;
  user_id: string;
  app: string;
  state: string;
  reason: string | null;
  message: string | null;
  url: string | null;
  quality: string;
  created_at: string;
  ready_at: string | null;
  attached_at: string | null;
  ended_at: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A database row read as the snapshot it was written from. */
export function rowSnapshot(row: Session): SessionSnapshot {
  const ms = (d: Date | null | undefined) => (d ? d.getTime() : null);
  return {
    sessionId: row.id,
    userId: row.userId,
    app: row.app as SessionSnapshot['app'],
    state: row.state as SessionSnapshot['state'],
    reason: (row.reason ?? null) as SessionSnapshot['reason'],
    message: row.message ?? null,
    url: row.url ?? null,
    quality: row.quality as SessionSnapshot['quality'],
    container:
      row.containerId && row.containerName && row.containerIp ? { id: row.containerId, name: row.containerName, ip: row.containerIp } : null,
    requestedAt: row.requestedAt.getTime(),
    startedAt: row.requestedAt.getTime(),
    readyAt: ms(row.readyAt),
    attachedAt: ms(row.attachedAt),
    lastActivityAt: null,
    endedAt: ms(row.endedAt),
  };
}

export const sessionView = (row: Session): SessionView => snapshotView(rowSnapshot(row));

export function snapshotView(s: SessionSnapshot): SessionView {
  return {
    session_id: s.sessionId,
    user_id: s.userId,
    app: s.app,
    state: s.state,
    reason: s.reason,
    message: s.message,
    url: s.url,
    quality: s.quality,
    created_at: iso(s.requestedAt) ?? '',
    ready_at: iso(s.readyAt),
    attached_at: iso(s.attachedAt),
    ended_at: iso(s.endedAt),
  };
}
