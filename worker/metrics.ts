/**
 * Prometheus metrics of the worker (prom-client), served on GET /metrics at
 * 127.0.0.1:HACKSTREAM_WORKER_METRICS_PORT: what the reconciler removed, by kind, the container
 * starts under way and waiting their turn, and the process's own figures. Loopback only: scrape
 * it on the worker's host.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReconcileMetrics } from '../activities/reconciler.js';
import type { StartAdmission } from '../activities/start-admission.js';
import type { Logger } from '../core/logger.js';
import { RECONCILED_KINDS, type ReconciledKind } from '../workflows/messages.js';

export class WorkerMetrics implements ReconcileMetrics {
  readonly registry = new Registry();
  private readonly reconciledTotal: Counter<'kind'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hackstream_worker_' });
    this.reconciledTotal = new Counter({
      name: 'hackstream_reconciled_total',
      help: 'What the reconciler removed because no running workflow owned it (rows: ended), by kind',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    // Every kind from zero, so a rate over a kind never starts with a gap.
    for (const kind of RECONCILED_KINDS) this.reconciledTotal.inc({ kind }, 0);
  }

  /** Reports the starts of this admission (under way, waiting) at every scrape. */
  observeStarts(admission: StartAdmission): void {
    new Gauge({
      name: 'hackstream_worker_starts',
      help: 'Session containers this worker is starting (running) or that wait for a start slot (waiting)',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const { running, waiting } = admission.load;
        this.set({ state: 'running' }, running);
        this.set({ state: 'waiting' }, waiting);
      },
    });
  }

  reconciled(kind: ReconciledKind, count: number): void {
    this.reconciledTotal.inc({ kind }, count);
  }

  /** Serves /metrics on 127.0.0.1; resolves with the port (0 asks for any free one). */
  serve(port: number, logger: Logger): Promise<{ port: number; close(): Promise<void> }> {
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || req.url !== '/metrics') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: 'only GET /metrics is served here' } }));
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: unknown) => {
          logger.warn('collecting the worker metrics failed', { error: String(err) });
          res.writeHead(500).end();
        },
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        resolve({
          port: (server.address() as AddressInfo).port,
          close: () => new Promise<void>((done) => server.close(() => done())),
        });
      });
    });
  }
}
