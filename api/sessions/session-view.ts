/** The JSON shape of a session in API responses (snake_case), from a row or a live snapshot. */
import type { Session } from '../../core/db/entities.js';
import type { SessionSnapshot } from '../../workflows/messages.js';

export interface ConnectDescriptor {
  /** Open `url` in a browser: xpra's HTML5 client, websocket on the same host and port. */
  kind: 'xpra-html5';
  url: string;
  host: string;
  port: number;
}

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
  connect: ConnectDescriptor | null;
}

const CONNECTABLE = new Set(['ready', 'active']);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function connectDescriptor(state: string, hostPort: number | undefined, publicHost: string): ConnectDescriptor | null {
  if (!CONNECTABLE.has(state) || !hostPort) return null;
  const host = publicHost.includes(':') ? `[${publicHost}]` : publicHost;
  return { kind: 'xpra-html5', url: `http://${host}:${hostPort}/`, host: publicHost, port: hostPort };
}

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
      row.containerId && row.containerName && row.xpraHostPort
        ? { id: row.containerId, name: row.containerName, xpraHostPort: row.xpraHostPort }
        : null,
    requestedAt: row.requestedAt.getTime(),
    startedAt: row.requestedAt.getTime(),
    readyAt: ms(row.readyAt),
    attachedAt: ms(row.attachedAt),
    lastActivityAt: null,
    endedAt: ms(row.endedAt),
  };
}

export const sessionView = (row: Session, publicHost: string): SessionView => snapshotView(rowSnapshot(row), publicHost);

export function snapshotView(s: SessionSnapshot, publicHost: string): SessionView {
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
    connect: connectDescriptor(s.state, s.container?.xpraHostPort, publicHost),
  };
}
