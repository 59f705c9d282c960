/**
 * Prometheus metrics of the API (prom-client), served on GET /metrics: session start latency by
 * start kind (warm from the pool, or cold), pool claims and misses, the pools' ready size, and
 * the requests answered 503 for a dependency that is down, or 500.
 * Not routed by the ingress: scrape the API's own (loopback) address.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ApiConfig } from '../core/config.js';
import { labelledCounter } from '../core/labelled-counter.js';
import type { RedisPoolStore } from '../core/pool-store.js';
import { poolName } from '../workflows/messages.js';
import { DEPENDENCIES } from './dependency-errors.js';
import { NODE_STATES } from '../core/node-names.js';
import type { NodeRegistry, NodeView } from '../core/node-registry.js';

export class ApiMetrics {
  readonly registry = new Registry();
  readonly sessionStart: Histogram<'start'>;
  readonly poolClaims: Counter<'pool'>;
  readonly poolMisses: Counter<'pool'>;
  readonly dependencyUnavailable: Counter<'dependency'>;
  readonly internalErrors: Counter;

  constructor(pools: RedisPoolStore, config: ApiConfig, nodes: Pick<NodeRegistry, 'list'>) {
    const { pool } = config;
    collectDefaultMetrics({ register: this.registry, prefix: 'hackstream_api_' });
    this.sessionStart = new Histogram({
      name: 'hackstream_session_start_seconds',
      help: 'Time from POST /v1/sessions to its ready response',
      labelNames: ['start'],
      buckets: [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 20, 30],
      registers: [this.registry],
    });
    // Every series from zero, so a rate or a quantile over it never starts with a gap.
    for (const start of ['warm', 'cold']) this.sessionStart.zero({ start });
    const poolNames = pool.pools.map((p) => poolName(p.app, p.quality));
    this.poolClaims = labelledCounter(this.registry, { name: 'hackstream_pool_claims_total', help: 'Sessions started from a warm container', label: 'pool', values: poolNames });
    this.poolMisses = labelledCounter(this.registry, { name: 'hackstream_pool_misses_total', help: 'Sessions that found their pool empty and started cold', label: 'pool', values: poolNames });
    this.dependencyUnavailable = labelledCounter(this.registry, {
      name: 'hackstream_api_dependency_unavailable_total',
      help: 'Requests answered 503 dependency_unavailable, by the dependency that did not answer',
      label: 'dependency',
      values: DEPENDENCIES,
    });
    this.internalErrors = new Counter({ name: 'hackstream_api_internal_errors_total', help: 'Requests answered 500 internal (a bug: see the log)', registers: [this.registry] });
    new Gauge({
      name: 'hackstream_pool_ready',
      help: 'Warm containers ready to be claimed',
      labelNames: ['pool'],
      registers: [this.registry],
      async collect() {
        for (const p of pool.pools) {
          const name = poolName(p.app, p.quality);
          this.set({ pool: name }, await pools.size({ name, image: p.image }));
        }
      },
    });
    // Both node gauges are collected from one read of the registry per scrape.
    let reading: Promise<NodeView[]> | null = null;
    const nodesNow = () => (reading ??= nodes.list().finally(() => (reading = null)));
    new Gauge({
      name: 'hackstream_nodes',
      help: 'Session nodes in the registry, by state',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const all = await nodesNow();
        for (const state of NODE_STATES) this.set({ state }, all.filter((n) => n.state === state).length);
      },
    });
    new Gauge({
      name: 'hackstream_node_reserved_sessions',
      help: 'Sessions holding a reservation on each node, with the node\'s state',
      labelNames: ['node', 'state'],
      registers: [this.registry],
      async collect() {
        const all = await nodesNow();
        this.reset();
        for (const n of all) this.set({ node: n.id, state: n.state }, n.reserved.sessions);
      },
    });
  }
}
