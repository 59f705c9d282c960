/**
 * OpenTelemetry across the control plane, for real: an API process and a worker process started
 * as an operator starts them, with nothing but the standard OTEL_* variables pointing at an OTLP
 * receiver this test runs. One `POST /v1/sessions` makes one trace: the API's request span, the
 * workflow start (update-with-start), the workflow run, its activities and their Docker calls; the
 * API's and the worker's log lines carry that trace's id. Without the variables nothing is sent.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { UserDirectory } from '../../api/users/user-directory.js';
import { loadApiConfig } from '../../core/config.js';
import { openDatabase, type Database } from '../../core/db/orm.js';
import { sessionWorkflowId, stopSignal } from '../../workflows/messages.js';
import { spawnApi, spawnControlPlane, type ControlPlaneProcess } from '../support/control-plane-process.js';
import { freePort } from '../support/ports.js';
import { until } from '../support/until.js';

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
}

const stack = inject('stack');
const received: ReceivedSpan[] = [];
let receiver: Server;
let api: (ControlPlaneProcess & { url: string }) | undefined;
let worker: ControlPlaneProcess | undefined;
let db: Database;
let temporal: Client;

/** An OTLP/HTTP receiver (JSON encoding, what the exporter sends by default) on loopback. */
function startReceiver(): Promise<string> {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ spans: Omit<ReceivedSpan, 'service'>[] }> }>;
        };
        for (const rs of body.resourceSpans) {
          const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans) for (const s of ss.spans) received.push({ service, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => receiver.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}`)));
}

const taskQueue = `hs-trace-${process.pid}`;
const env: Record<string, string> = {
  ...stack.env,
  HACKSTREAM_TASK_QUEUE: taskQueue,
  HACKSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
  HACKSTREAM_SECRET_KEY: randomBytes(32).toString('hex'),
  HACKSTREAM_ADMIN_PASSWORD: randomBytes(16).toString('hex'),
  HACKSTREAM_ENV: 'production',
  HACKSTREAM_LOG_LEVEL: 'info',
  OTEL_BSP_SCHEDULE_DELAY: '200',
};

beforeAll(async () => {
  const endpoint = await startReceiver();
  const traced = { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint };
  worker = await spawnControlPlane('worker', traced, (out) => out.includes('"worker started"'));
  api = await spawnApi(traced, await freePort());
  db = await openDatabase(loadApiConfig(env).db);
  temporal = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
}, 180_000);

afterAll(async () => {
  await api?.stop();
  await worker?.stop();
  await temporal?.connection.close();
  await db?.close();
  receiver?.close();
});

const logLines = (p: ControlPlaneProcess) =>
  p.output
    .join('')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });

describe('a trace from the API to the Docker engine', () => {
  it('POST /v1/sessions: request → update-with-start → workflow → activities → Docker calls, one trace id, in the logs too', async () => {
    const username = `t-${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await new UserDirectory(db).create(username, password, 'user');
    const login = await fetch(`${api!.url}/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    const { access_token: token } = (await login.json()) as { access_token: string };
    const res = await fetch(`${api!.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ app: 'firefox' }) });
    const session = (await res.json()) as { session_id: string };
    expect(res.status, JSON.stringify(session)).toBe(201);
    let stopped = false;
    try {
      const request = await until('the request span', () => received.find((s) => s.service === 'hackstream-api' && s.name === 'POST /v1/sessions'), 30_000);
      const inTrace = () => received.filter((s) => s.traceId === request.traceId);
      await until('the container-create call in the trace', () => inTrace().find((s) => s.name === 'docker POST /containers/create'), 30_000);
      // The workflow's own span ends with the workflow: stop the session, then it is exported.
      const stop = await fetch(`${api!.url}/v1/sessions/${session.session_id}/stop`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      expect(stop.status).toBe(200);
      stopped = true;
      await until('the workflow run span', () => inTrace().find((s) => s.name === 'RunWorkflow:SessionWorkflow'), 30_000);
      const names = inTrace().map((s) => `${s.service} ${s.name}`);
      const expected = [
        'hackstream-api POST /v1/sessions',
        'hackstream-api UpdateWithStartWorkflow:awaitReady',
        'hackstream-worker RunWorkflow:SessionWorkflow',
        'hackstream-worker RunActivity:provisionSession',
        'hackstream-worker docker POST /containers/create',
        'hackstream-worker docker POST /containers/{id}/start',
      ];
      expect(expected.filter((n) => !names.includes(n)), names.join('\n')).toEqual([]);
      // Parent links hold the tree together: every span but the request's has its parent in the
      // trace (a parent ends, and is exported, after its children: the watcher's after the stop).
      const orphans = () => {
        const ids = new Set(inTrace().map((s) => s.spanId));
        return inTrace().filter((s) => s !== request && !ids.has(s.parentSpanId));
      };
      await until('every parent span', () => (orphans().length === 0 ? true : undefined), 15_000).catch(() => undefined);
      expect(orphans().map((s) => s.name)).toEqual([]);

      // A process's log reaches this one through a pipe, racing its HTTP answers: waited for.
      const apiLine = await until('the API request log line', () => logLines(api!).find((l) => l['message'] === 'request' && l['path'] === '/v1/sessions' && l['method'] === 'POST'), 15_000);
      expect(apiLine['trace_id']).toBe(request.traceId);
      // The worker's log reaches this process a moment after its spans do: waited for, not raced.
      await until('a worker log line with the trace id', () => logLines(worker!).find((l) => l['trace_id'] === request.traceId), 15_000);
    } finally {
      if (!stopped) await temporal.workflow.getHandle(sessionWorkflowId(session.session_id)).signal(stopSignal, { reason: 'admin_stop', by: 'test' });
    }
  }, 180_000);

  it('is off in a process without OTEL_* variables: no exporter, no trace ids in its logs', async () => {
    const plain = await spawnApi(env, await freePort());
    try {
      for (let i = 0; i < 5; i++) await fetch(`${plain.url}/health`);
      // /health can answer before the log line written just before it has come through the pipe.
      const line = await until('the API listening log line', () => logLines(plain).find((l) => l['message'] === 'api listening'), 15_000);
      expect(line['tracing']).toBe(false);
      expect(logLines(plain).some((l) => 'trace_id' in l)).toBe(false);
    } finally {
      await plain.stop();
    }
  }, 120_000);
});
