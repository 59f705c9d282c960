import { useState } from 'preact/hooks';
import { api, errorMessage } from '../api';
import { rememberAppLink } from '../app-links';
import { ApiError } from '../http';
import { Alert, Field, Section, Status, TableWrap } from '../components/ui';
import { SessionActions } from '../components/SessionActions';
import { formatDuration, formatMemory, formatTime } from '../format';
import { usePolledGet } from '../polling';
import { useSessionList } from '../sessions';
import { QUALITIES, type AppEntry, type AppList, type Quality, type QuotaResponse, type Session } from '../types';

const NO_FILTER = {};

export function SessionsPage() {
  const list = useSessionList(NO_FILTER, 3000, 20);
  const [actionError, setActionError] = useState<string | null>(null);

  // Usage only moves when sessions start or end: the list's actions reload it sooner.
  const quota = usePolledGet<QuotaResponse>('/v1/quotas', 15_000);
  const changed = () => {
    list.reload();
    quota.reload();
  };

  return (
    <>
      <h1 tabIndex={-1}>Sessions</h1>
      <LaunchForm onLaunched={changed} />
      <section aria-labelledby="my-sessions" class="card">
        <h2 id="my-sessions">My sessions</h2>
        <Alert message={list.error ?? actionError} />
        {list.sessions === null ? (
          <p>Loading…</p>
        ) : (
          <TableWrap label="My sessions">
            <table>
              {/* The section heading above says it; the caption still names the table for screen readers. */}
              <caption class="visually-hidden">My sessions</caption>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Address</th>
                  <th scope="col">Quality</th>
                  <th scope="col">State</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.sessions.length === 0 ? (
                  <tr>
                    <td colSpan={5}>No sessions yet.</td>
                  </tr>
                ) : (
                  list.sessions.map((s) => (
                    <tr key={s.session_id}>
                      <td>
                        <time dateTime={s.created_at}>{formatTime(s.created_at)}</time>
                      </td>
                      <td class="wrap">{s.url ?? 'Start page'}</td>
                      <td>{s.quality}</td>
                      <td class={`state state-${s.state}`}>{s.state}</td>
                      <td>
                        <SessionActions
                          session={s}
                          open
                          onError={setActionError}
                          onStopped={(stopped) => {
                            list.update(stopped);
                            changed();
                          }}
                        />
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
      </section>
      <QuotaSection quota={quota.data} error={quota.error} />
    </>
  );
}

/** The API answers a create once the session is ready, or 504 after its own create timeout (90 s by default). */
const SESSION_START_TIMEOUT_MS = 180_000;

function LaunchForm({ onLaunched }: { onLaunched: () => void }) {
  // What the user's role may start (the deployment's app catalog); it changes only with the configuration.
  const catalog = usePolledGet<AppList>('/v1/apps', 300_000);
  const apps = catalog.data?.apps ?? [];
  const [appName, setAppName] = useState<string | null>(null);
  const app: AppEntry | undefined = apps.find((a) => a.name === appName) ?? apps[0];
  const [url, setUrl] = useState('');
  const [quality, setQuality] = useState<Quality>('auto');
  const [persist, setPersist] = useState(false);
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [started, setStarted] = useState<string | null>(null);

  const launch = async (app: AppEntry) => {
    setStarting(true);
    setError(null);
    setStarted(null);
    try {
      const body: { app: string; quality: Quality; url?: string; profile?: 'persist' } = { app: app.name, quality };
      if (persist && app.profiles.includes('persist')) body.profile = 'persist';
      if (url.trim() && app.opens_urls) body.url = url.trim();
      // Answers once the container is up: seconds from a warm pool, longer on a cold start.
      const s = await api<Session>('POST', '/v1/sessions', body, SESSION_START_TIMEOUT_MS);
      if (s.connect) rememberAppLink(s.session_id, s.connect.app_link);
      setStarted(`${app.title} is ready: use Open in the list below.`);
      setUrl('');
    } catch (err) {
      // The answer was lost, not necessarily the session: it may be starting all the same.
      setError(err instanceof ApiError && err.code === 'network' ? `The connection broke while ${app.title} was starting: the list below shows whether it started.` : errorMessage(err));
    } finally {
      setStarting(false);
      onLaunched();
    }
  };

  return (
    <form
      noValidate
      class="card launch"
      aria-labelledby="launch-title"
      onSubmit={(e) => {
        e.preventDefault();
        if (!starting && app) void launch(app);
      }}
    >
      <h2 id="launch-title">New session</h2>
      <Alert message={catalog.error} />
      <div class="row">
        <Field id="launch-app" label="App">
          <select id="launch-app" value={app?.name ?? ''} onChange={(e) => setAppName(e.currentTarget.value)}>
            {apps.map((a) => (
              <option key={a.name} value={a.name}>
                {a.title}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <div class="row">
        {app?.opens_urls === false ? null : (
        <Field id="launch-url" label="Web address" hint={`Optional: the page ${app?.title ?? 'the app'} opens.`}>
          <input
            id="launch-url"
            type="url"
            inputMode="url"
            placeholder="https://example.org"
            aria-describedby="launch-url-hint"
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
        </Field>
        )}
        <Field id="launch-quality" label="Quality">
          <select id="launch-quality" value={quality} onChange={(e) => setQuality(e.currentTarget.value as Quality)}>
            {QUALITIES.map((q) => (
              <option key={q} value={q}>
                {q}
              </option>
            ))}
          </select>
        </Field>
      </div>
      {app?.profiles.includes('persist') === false ? null : (
      <div class="field check">
        <input id="launch-persist" type="checkbox" aria-describedby="launch-persist-hint" checked={persist} onChange={(e) => setPersist(e.currentTarget.checked)} />
        <label for="launch-persist">Keep my profile</label>
        <small id="launch-persist-hint" class="hint">
          What {app?.title ?? 'the app'} keeps (bookmarks, history, cookies, site data, settings, mail) stays for your next session of it that keeps its profile (one at a time; a few seconds to start).
        </small>
      </div>
      )}
      <button type="submit" disabled={starting || !app}>
        Launch {app?.title ?? '…'}
      </button>
      {starting ? <Status>Starting…</Status> : null}
      {started ? <Status class="ok">{started}</Status> : null}
      <Alert message={error} />
    </form>
  );
}

function QuotaSection({ quota, error }: { quota: QuotaResponse | null; error: string | null }) {
  return (
    <Section id="quota" title="Quota">
      <Alert message={error} />
      {quota ? (
        <dl class="facts">
          <div>
            <dt>Sessions</dt>
            <dd>
              {quota.usage.sessions} of {quota.quota.max_sessions} sessions
            </dd>
          </div>
          <div>
            <dt>Profile storage</dt>
            <dd>
              {quota.usage.storage_mb} of {quota.quota.storage_mb} MB
            </dd>
          </div>
          <div>
            <dt>Memory</dt>
            <dd>{formatMemory(quota.quota.memory_mb)} per session</dd>
          </div>
          <div>
            <dt>CPUs</dt>
            <dd>{quota.quota.cpus} per session</dd>
          </div>
          <div>
            <dt>Idle timeout</dt>
            <dd>{formatDuration(quota.quota.idle_timeout_seconds)}</dd>
          </div>
          <div>
            <dt>Maximum duration</dt>
            <dd>{formatDuration(quota.quota.max_duration_seconds)}</dd>
          </div>
        </dl>
      ) : error ? null : (
        <p>Loading…</p>
      )}
    </Section>
  );
}
