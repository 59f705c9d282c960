import { Alert, Section, TableWrap } from '../components/ui';
import { formatAgo, formatMs, formatTime } from '../format';
import { usePolledGet } from '../polling';
import type { DependencyStatus, Overview, StartStats } from '../types';

export function OverviewPage() {
  const { data: overview, error, loadedAt } = usePolledGet<Overview>('/v1/admin/overview', 10_000);

  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      <Alert message={error} />
      {overview ? (
        <>
          <p class="muted">Updated {formatTime(loadedAt)}; refreshes every 10 seconds.</p>
          <div class="grid">
            <Section id="ov-sessions" title="Sessions">
              <dl class="facts">
                {(['provisioning', 'ready', 'active', 'stopping'] as const).map((state) => (
                  <div key={state}>
                    <dt>{state}</dt>
                    <dd>{overview.sessions[state]}</dd>
                  </div>
                ))}
              </dl>
            </Section>
            <Section id="ov-dependencies" title="Dependencies">
              <dl class="facts">
                {Object.entries(overview.dependencies).map(([name, dep]) => (
                  <div key={name}>
                    <dt>{name}</dt>
                    <dd>
                      <DependencyBadge dep={dep} />
                    </dd>
                  </div>
                ))}
              </dl>
            </Section>
          </div>
          <Section id="ov-pools" title="Warm pools">
            <TableWrap label="Warm pools">
              <table>
                <caption class="visually-hidden">Warm pools</caption>
                <thead>
                  <tr>
                    <th scope="col">Pool</th>
                    <th scope="col">Ready</th>
                    <th scope="col">Target</th>
                  </tr>
                </thead>
                <tbody>
                  {overview.pools.length === 0 ? (
                    <tr>
                      <td colSpan={3}>No warm pools configured.</td>
                    </tr>
                  ) : (
                    overview.pools.map((p) => (
                      <tr key={`${p.app}/${p.quality}`}>
                        <td>
                          {p.app} ({p.quality})
                        </td>
                        <td class={p.ready < p.target ? 'warn' : undefined}>{p.ready}</td>
                        <td>{p.target}</td>
                      </tr>
                    ))
                  )}
                </tbody>
              </table>
            </TableWrap>
            <p>
              Claims from the pools: {overview.pool_claims.claims}; misses (cold starts instead): {overview.pool_claims.misses}.
            </p>
          </Section>
          <Section id="ov-starts" title="Start times (last hour)">
            <TableWrap label="Start times">
              <table>
                <caption class="visually-hidden">Start times over the last hour</caption>
                <thead>
                  <tr>
                    <th scope="col">Start</th>
                    <th scope="col">Count</th>
                    <th scope="col">p50</th>
                    <th scope="col">p95</th>
                  </tr>
                </thead>
                <tbody>
                  <StartRow label="Warm" stats={overview.starts.warm} />
                  <StartRow label="Cold" stats={overview.starts.cold} />
                </tbody>
              </table>
            </TableWrap>
          </Section>
          <Section id="ov-workers" title="Workers">
            {overview.workers.length === 0 ? (
              <p class="bad">
                No worker has reported: sessions cannot start.
              </p>
            ) : (
              <TableWrap label="Workers">
                <table>
                  <caption class="visually-hidden">Workers</caption>
                  <thead>
                    <tr>
                      <th scope="col">Worker</th>
                      <th scope="col">Docker</th>
                      <th scope="col">Reported</th>
                    </tr>
                  </thead>
                  <tbody>
                    {overview.workers.map((w) => (
                      <tr key={w.identity}>
                        <td class="wrap">{w.identity}</td>
                        <td class={w.docker === 'ok' ? 'good' : 'bad'}>
                          {w.docker}
                          {w.error ? `: ${w.error}` : ''}
                        </td>
                        <td>
                          <time dateTime={w.reported_at}>{formatAgo(w.reported_at)}</time>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )}
          </Section>
        </>
      ) : error ? null : (
        <p>Loading…</p>
      )}
    </>
  );
}

function DependencyBadge({ dep }: { dep: DependencyStatus }) {
  return dep.status === 'ok' ? <span class="good">ok</span> : <span class="bad">error: {dep.error}</span>;
}

function StartRow({ label, stats }: { label: string; stats: StartStats }) {
  return (
    <tr>
      <th scope="row">{label}</th>
      <td>{stats.count}</td>
      <td>{formatMs(stats.p50_ms)}</td>
      <td>{formatMs(stats.p95_ms)}</td>
    </tr>
  );
}
