import { useEffect, useState } from 'preact/hooks';
import { errorMessage, get, query } from '../api';
import { Alert, Field, FilterSelect, TableWrap } from '../components/ui';
import { formatTime } from '../format';
import { AUDIT_ACTIONS, type AuditEvent, type AuditPage as Page } from '../types';
import { userChoices, useUsers } from '../users';

const PAGE_SIZE = 50;

interface Filters {
  action: string;
  user: string;
  since: string;
}

/** datetime-local is the browser's local time without a zone; the API wants an instant. */
function sinceParam(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString();
}

export function AuditPage() {
  const directory = useUsers();
  const [draft, setDraft] = useState<Filters>({ action: '', user: '', since: '' });
  const [applied, setApplied] = useState<Filters>(draft);
  // The cursors of the pages walked through, newest first; empty: the first page (the newest events).
  const [trail, setTrail] = useState<string[]>([]);
  const cursor = trail.at(-1);
  // The page shown and its number, set together when its answer arrives: until then the previous
  // page stays on screen, marked busy.
  const [shown, setShown] = useState<{ page: Page; number: number } | null>(null);
  const page = shown?.page ?? null;
  const next = page?.next_cursor ?? null;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let alive = true;
    setBusy(true);
    const q = query({ action: applied.action.trim(), user: applied.user, since: sinceParam(applied.since), limit: PAGE_SIZE, cursor });
    get<Page>(`/v1/audit${q}`)
      .then(
        (answer) => {
          if (!alive) return;
          setShown({ page: answer, number: trail.length + 1 });
          setError(null);
        },
        (err: unknown) => alive && setError(errorMessage(err)),
      )
      .finally(() => alive && setBusy(false));
    return () => {
      alive = false;
    };
  }, [applied, trail]);

  return (
    <>
      <h1 tabIndex={-1}>Audit log</h1>
      <form
        noValidate
        class="card filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          setTrail([]);
          setApplied({ ...draft });
        }}
      >
        <Field id="audit-action" label="Action">
          <input id="audit-action" list="audit-actions" autocomplete="off" value={draft.action} onInput={(e) => setDraft({ ...draft, action: e.currentTarget.value })} />
          <datalist id="audit-actions">
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </Field>
        <FilterSelect id="audit-user" label="User" value={draft.user} onChange={(user) => setDraft({ ...draft, user })} choices={userChoices(directory.users)} />
        <Field id="audit-since" label="Since">
          <input id="audit-since" type="datetime-local" value={draft.since} onInput={(e) => setDraft({ ...draft, since: e.currentTarget.value })} />
        </Field>
        <button type="submit" disabled={busy}>
          Apply
        </button>
      </form>
      <Alert message={error ?? directory.error} />
      {page === null ? (
        error ? null : (
          <p>Loading…</p>
        )
      ) : (
        <TableWrap label="Audit log">
          <table class="audit" aria-busy={busy}>
            <caption>Audit log, page {shown?.number}</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Action</th>
                <th scope="col">Actor</th>
                <th scope="col">User</th>
                <th scope="col">Target</th>
                <th scope="col">Source IP</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {page.events.length === 0 ? (
                <tr>
                  <td colSpan={7}>No events match.</td>
                </tr>
              ) : (
                page.events.map((e) => <EventRow key={e.id} event={e} nameOf={directory.nameOf} />)
              )}
            </tbody>
          </table>
        </TableWrap>
      )}
      <div class="actions">
        <button type="button" class="secondary" disabled={busy || trail.length === 0} onClick={() => setTrail([])}>
          First page
        </button>
        <button type="button" class="secondary" disabled={busy || trail.length === 0} onClick={() => setTrail(trail.slice(0, -1))}>
          Previous page
        </button>
        {next ? (
          <button type="button" class="secondary" disabled={busy} onClick={() => setTrail([...trail, next])}>
            Next page
          </button>
        ) : null}
      </div>
    </>
  );
}

function EventRow({ event: e, nameOf }: { event: AuditEvent; nameOf: (id: string | null) => string }) {
  return (
    <tr>
      <td>
        <time dateTime={e.occurred_at}>{formatTime(e.occurred_at)}</time>
      </td>
      <td>{e.action}</td>
      <td>{e.actor_name ?? nameOf(e.actor_id)}</td>
      <td>{nameOf(e.user_id)}</td>
      <td class="wrap">{e.target_type ? `${e.target_type} ${e.target_id ?? ''}`.trim() : '—'}</td>
      <td>{e.source_ip ?? '—'}</td>
      <td class="wrap">{e.details ? <code>{JSON.stringify(e.details)}</code> : '—'}</td>
    </tr>
  );
}
