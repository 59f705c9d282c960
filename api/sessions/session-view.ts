/**
 * The JSON shape of a session in API responses (snake_case), from a recorded or a live snapshot.
 * Connect descriptors carry one-time credentials and are added only where they are issued.
 */
import type { SessionSnapshot } from '../../core/session-snapshot.js';
import type { SessionView } from '../contract/responses.js';

export type { SessionView };


const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

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
    node: s.node ?? null,
  };
}
