import { useEffect, useState } from 'preact/hooks';
import { get } from '../api';
import { Alert, FilterSelect, TableWrap } from '../components/ui';
import { SessionActions } from '../components/SessionActions';
import { formatTime } from '../format';
import { useSessionList } from '../sessions';
import { usePolledGet } from '../polling';
import { SESSION_STATES, type AppList, type Overview } from '../types';
import { userChoices, useUsers } from '../users';

export function AdminSessionsPage() {
  const [state, setState] = useState('');
  const [user, setUser] = useState('');
  const [app, setApp] = useState('');
  const [actionError, setActionError] = useState<string | null>(null);
  const directory = useUsers();
  const workflowUrl = useWorkflowUrlTemplate();
  // The catalog changes only with the deployment's configuration.
  const apps = usePolledGet<AppList>('/v1/apps', 300_000);
  const list = useSessionList({ all: '1', state: state || undefined, user: user || undefined, app: app || undefined }, 5000, 50);

  return (
    <>
      <h1 tabIndex={-1}>All sessions</h1>
      <form noValidate class="card filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect id="filter-state" label="State" value={state} onChange={setState} choices={['live', ...SESSION_STATES]} />
        <FilterSelect id="filter-user" label="User" value={user} onChange={setUser} choices={userChoices(directory.users)} />
        <FilterSelect id="filter-app" label="App" value={app} onChange={setApp} choices={(apps.data?.apps ?? []).map((a) => ({ value: a.name, label: a.title }))} />
      </form>
      <Alert message={list.error ?? actionError ?? directory.error} />
      {list.sessions === null ? (
        <p>Loading…</p>
      ) : (
        <TableWrap label="All sessions">
          <table>
            <caption>All sessions</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">App</th>
                <th scope="col">Started</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.sessions.length === 0 ? (
                <tr>
                  <td colSpan={5}>No sessions match.</td>
                </tr>
              ) : (
                list.sessions.map((s) => (
                  <tr key={s.session_id}>
                    <td>{directory.nameOf(s.user_id)}</td>
                    <td>{s.app}</td>
                    <td>
                      <time dateTime={s.created_at}>{formatTime(s.created_at)}</time>
                    </td>
                    <td class={`state state-${s.state}`}>{s.state}</td>
                    <td>
                      <div class="actions">
                        <SessionActions
                          session={s}
                          open={false}
                          onError={setActionError}
                          onStopped={(stopped) => {
                            list.update(stopped);
                            list.reload();
                          }}
                        />
                        {workflowUrl ? (
                          <a href={workflowUrl.replace('{session_id}', encodeURIComponent(s.session_id))} target="_blank" rel="noopener noreferrer">
                            Workflow
                          </a>
                        ) : null}
                      </div>
                    </td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
        </TableWrap>
      )}
      {list.hasMore ? (
        <button type="button" class="secondary" disabled={list.loadingMore} onClick={() => void list.loadMore()}>
          Load more
        </button>
      ) : null}
    </>
  );
}

/** Where Temporal's UI shows a session's workflow, if the deployment exposes it; read once. */
function useWorkflowUrlTemplate(): string | null {
  const [template, setTemplate] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    get<Overview>('/v1/admin/overview').then(
      (o) => alive && setTemplate(o.temporal_ui?.workflow_url_template ?? null),
      // Without it the page works, minus the links.
      () => undefined,
    );
    return () => {
      alive = false;
    };
  }, []);
  return template;
}
