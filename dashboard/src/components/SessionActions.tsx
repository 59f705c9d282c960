/** A session row's buttons: Open (browser), Open in the app (HackStream client), Stop. */
import { useState } from 'preact/hooks';
import { errorMessage } from '../api';
import { appLinkFor } from '../app-links';
import { canOpen, canStop, endedBecause, openInBrowser, stopSession } from '../sessions';
import type { Session } from '../types';

interface Props {
  session: Session;
  /** Offer the client link and the browser (own sessions); admins only stop. */
  open: boolean;
  onStopped: (s: Session) => void;
  onError: (message: string | null) => void;
}

export function SessionActions({ session, open, onStopped, onError }: Props) {
  const [busy, setBusy] = useState<'open' | 'stop' | null>(null);
  const id = session.session_id;

  const act = async (which: 'open' | 'stop', action: () => Promise<void>) => {
    setBusy(which);
    onError(null);
    try {
      await action();
    } catch (err) {
      onError(errorMessage(err));
    } finally {
      setBusy(null);
    }
  };

  if (session.state === 'stopped' || session.state === 'failed') {
    const why = endedBecause(session);
    return why ? <span class="muted">{why}</span> : null;
  }
  const appLink = appLinkFor(id);
  return (
    <div class="actions">
      {open && canOpen(session.state) ? (
        <>
          <button type="button" disabled={busy !== null} onClick={() => void act('open', () => openInBrowser(id))}>
            Open
          </button>
          <a href={appLink}>Open in the app</a>
        </>
      ) : null}
      {canStop(session.state) ? (
        <button
          type="button"
          class="secondary"
          disabled={busy !== null}
          onClick={() =>
            void act('stop', async () => {
              onStopped(await stopSession(id));
            })
          }
        >
          Stop
        </button>
      ) : null}
    </div>
  );
}
