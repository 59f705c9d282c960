/**
 * GET /v1/admin/overview: what an operator looks at first, in one answer. Sessions by state and
 * the start figures come from the database (every API and worker's, not this process's), the
 * pools' ready counts from Redis, the dependencies from the readiness checks and the workers from
 * the health records they publish.
 */
import type { Redis } from 'ioredis';
import type { ApiConfig } from '../../core/config.js';
import { percentile } from '../../core/percentile.js';
import type { RedisPoolStore } from '../../core/pool-store.js';
import type { SessionRows } from '../../core/session-rows.js';
import type { SessionStart } from '../../core/session-snapshot.js';
import { poolName, sessionWorkflowId } from '../../workflows/messages.js';
import type { AdminOverview } from '../contract/responses.js';
import { checkReadiness, workerReports, type ReadinessDeps } from '../readiness.js';

/** The window of the start figures. */
const START_WINDOW_MS = 60 * 60 * 1000;

export class AdminOverviews {
  constructor(
    private readonly deps: { config: ApiConfig; rows: SessionRows; pools: RedisPoolStore; redis: Redis; readiness: ReadinessDeps },
  ) {}

  async get(): Promise<AdminOverview> {
    const { config, rows, pools, redis } = this.deps;
    const poolSpecs = config.pool.pools;
    const [sessions, latencies, ready, readiness, workers] = await Promise.all([
      rows.countLive(),
      rows.startLatencies(new Date(Date.now() - START_WINDOW_MS)),
      Promise.all(poolSpecs.map((p) => pools.size({ name: poolName(p.app, p.quality), image: p.image }))),
      checkReadiness(this.deps.readiness),
      workerReports(redis),
    ]);
    const pooled = new Set(poolSpecs.map((p) => poolName(p.app, p.quality)));
    const starts = (kind: SessionStart) => {
      const ms = latencies.filter((l) => l.start === kind).map((l) => l.ms);
      return { count: ms.length, p50_ms: ms.length ? percentile(ms, 50) : null, p95_ms: ms.length ? percentile(ms, 95) : null };
    };
    return {
      sessions,
      pools: poolSpecs.map((p, i) => ({ app: p.app, quality: p.quality, target: p.size, ready: ready[i]! })),
      pool_claims: {
        claims: latencies.filter((l) => l.start === 'warm').length,
        misses: latencies.filter((l) => l.start === 'cold' && pooled.has(poolName(l.app, l.quality))).length,
      },
      starts: { warm: starts('warm'), cold: starts('cold') },
      dependencies: readiness.checks as AdminOverview['dependencies'],
      workers: workers.map((w) => ({ identity: w.identity, docker: w.docker, ...(w.error ? { error: w.error } : {}), reported_at: new Date(w.at).toISOString() })),
      temporal_ui: config.temporalUiUrl
        ? { workflow_url_template: `${config.temporalUiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${sessionWorkflowId('{session_id}')}` }
        : null,
    };
  }
}
