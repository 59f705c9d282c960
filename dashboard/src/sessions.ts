/** Session actions and the paged, polled session list shared by "Sessions" and "All sessions". */
import { useRef, useState } from 'preact/hooks';
import { errorMessage, get, post, postIdempotent, query } from './api';
import { rememberAppLink } from './app-links';
import { usePolling } from './polling';
import type { Session, SessionPage, SessionState } from './types';

/** The API's largest page. */
const MAX_LIMIT = 500;

export const canOpen = (state: SessionState) => state === 'ready' || state === 'active';
export const canStop = (state: SessionState) => state === 'provisioning' || state === 'ready' || state === 'active';

const REASONS: Record<string, string> = {
  user_stop: 'Stopped by its user',
  admin_stop: 'Stopped by an admin',
  idle: 'Stopped after being idle',
  connect_timeout: 'Nobody connected in time',
  max_duration: 'Reached its maximum duration',
  app_exited: 'The application exited',
  cancelled: 'Cancelled',
  provision_failed: 'Could not start',
  provision_timeout: 'Took too long to start',
  workflow_lost: 'Cleaned up after its workflow was lost',
};

/** Why an ended session ended, in words. */
export function endedBecause(s: Session): string {
  const reason = s.reason ? (REASONS[s.reason] ?? s.reason) : '';
  return [reason, s.message].filter(Boolean).join(': ');
}

/**
 * Fresh one-time credentials, fetched at the click and never kept: the browser URL carries a
 * token that works once. The tab is opened at once, still inside the click (browsers block a
 * window opened after an awaited request), cut from this page, and sent to the session once the
 * credentials are there.
 */
export async function openInBrowser(sessionId: string): Promise<void> {
  const tab = window.open('about:blank', '_blank');
  if (!tab) throw new Error('The browser blocked the new tab: allow pop-ups for this page and try again.');
  tab.opener = null;
  try {
    const s = await post<Session>(`/v1/sessions/${encodeURIComponent(sessionId)}/connect`);
    if (!s.connect) throw new Error('The server sent no connection details: try again.');
    rememberAppLink(sessionId, s.connect.app_link);
    tab.location.replace(s.connect.browser.url);
  } catch (err) {
    tab.close();
    throw err;
  }
}

export function stopSession(sessionId: string): Promise<Session> {
  // Stopping a stopped session answers its final state: safe to send again after a network change.
  return postIdempotent<Session>(`/v1/sessions/${encodeURIComponent(sessionId)}/stop`);
}

interface ListState {
  key: string;
  items: Session[];
  cursor: string | null;
}

/**
 * The first pages of a session list, polled. Each poll reloads everything shown (one request with
 * a larger limit) so states stay live; "Load more" follows `next_cursor`.
 */
export function useSessionList(params: Record<string, string | undefined>, intervalMs: number, pageSize: number) {
  const key = JSON.stringify(params);
  const [list, setList] = useState<ListState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const shown = useRef({ key, count: pageSize });
  if (shown.current.key !== key) shown.current = { key, count: pageSize };

  const reload = usePolling(
    async (current) => {
      const limit = Math.min(MAX_LIMIT, shown.current.count);
      try {
        const page = await get<SessionPage>(`/v1/sessions${query({ ...params, limit })}`);
        if (!current()) return;
        setError(null);
        setList((prev) => {
          const fresh = new Set(page.sessions.map((s) => s.session_id));
          // Beyond the API's largest page, what "Load more" appended stays as it was.
          const tail = prev && prev.key === key && prev.items.length > limit ? prev.items.slice(limit).filter((s) => !fresh.has(s.session_id)) : [];
          return { key, items: [...page.sessions, ...tail], cursor: tail.length && prev ? prev.cursor : (page.next_cursor ?? null) };
        });
      } catch (err) {
        if (current()) setError(errorMessage(err));
      }
    },
    intervalMs,
    [key],
  );

  const current = list && list.key === key ? list : null;

  const loadMore = async () => {
    if (!current?.cursor) return;
    setLoadingMore(true);
    try {
      const page = await get<SessionPage>(`/v1/sessions${query({ ...params, limit: pageSize, cursor: current.cursor })}`);
      shown.current.count += pageSize;
      setError(null);
      setList((prev) => {
        if (!prev || prev.key !== key) return prev;
        const known = new Set(prev.items.map((s) => s.session_id));
        return { key, items: [...prev.items, ...page.sessions.filter((s) => !known.has(s.session_id))], cursor: page.next_cursor ?? null };
      });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setLoadingMore(false);
    }
  };

  /** Shows what an action answered at once, before the next poll confirms it. */
  const update = (s: Session) =>
    setList((prev) => (prev ? { ...prev, items: prev.items.map((item) => (item.session_id === s.session_id ? { ...item, ...s } : item)) } : prev));

  return { sessions: current?.items ?? null, hasMore: Boolean(current?.cursor), error, loadMore, loadingMore, reload, update };
}
