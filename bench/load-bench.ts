/**
 * Load against the real stack (the tests' Redis, Temporal dev server, Traefik and SQLite), with
 * the API and a worker as processes of their own (so that their memory is theirs), run from the
 * build the stack runs (dist/, brought up to date by stack/build-app.sh). Figures, not
 * pass/fail; the run ends with what it found left behind.
 *
 * - bursts: 30 concurrent creates from 10 users with the pool off, then with a pool of 5: every
 *   answer 201 or a clean 429/503/504 (a JSON error), and nothing left once they are stopped;
 * - hostile: 10,000 malformed or hostile requests generated with fast-check (methods, paths,
 *   headers, tokens, bodies): their statuses (a 5xx is a finding) and the API's memory;
 * - soak: N session lifecycles (create, stop), the API's and the worker's memory as it goes,
 *   Temporal history events per session, and what is left behind.
 *
 *   npm run bench:load [-- --only bursts,hostile,soak] [-- --soak 200] [-- --hostile 10000]
 */
import { DEFAULT_NODE_ID } from '../core/node-names.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import fc from 'fast-check';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import { stackLabelFilter } from '../activities/container-labels.js';
import { UserDirectory } from '../api/users/user-directory.js';
import { loadApiConfig } from '../core/config.js';
import { openDatabase, type Database } from '../core/db/orm.js';
import { Session } from '../core/db/entities.js';
import { FINAL_STATES } from '../core/session-snapshot.js';
import { poolReadyKey } from '../core/pool-store.js';
import { sessionWorkflowId } from '../workflows/messages.js';
import { docker } from '../test/support/docker.js';
import { REPO_ROOT } from '../test/support/paths.js';
import { freePort } from '../test/support/ports.js';
import { metricValue } from '../test/support/prometheus.js';
import { startTestStack, type TestStack } from '../test/support/test-stack.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const ONLY = new Set((arg('only') ?? 'bursts,hostile,soak').split(','));
const SOAK = Number(arg('soak') ?? 200);
const HOSTILE = Number(arg('hostile') ?? 10_000);
const QUEUE = `hs-load-${process.pid}`;
const POOL_SIZE = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => console.log(`[load] ${msg}`);

interface Proc {
  proc: ChildProcess;
  /** Where its whole output goes, to read after a surprising figure. */
  logFile: string;
}

const LOG_DIR = mkdtempSync(path.join(os.tmpdir(), 'hs-load-logs-'));

/** Runs one of the built entry points (`dist/<entry>.js`) with its output in LOG_DIR. */
function spawnBuilt(name: string, entry: string, env: NodeJS.ProcessEnv): Proc {
  const logFile = path.join(LOG_DIR, `${name}.log`);
  const out = openSync(logFile, 'a');
  const proc = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', `${entry}.js`)], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  closeSync(out);
  return { proc, logFile };
}

async function stopProc(p: Proc | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null) return;
  p.proc.kill('SIGTERM');
  await new Promise((r) => p.proc.once('exit', r));
}

/** The API's live JavaScript heap, MiB, from its own metrics (what RSS, which rarely shrinks, hides). */
async function apiHeapMiB(port: number): Promise<number> {
  const text = (await request(port, 'GET', '/metrics', {})).text;
  return (metricValue(text, 'hackstream_api_nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20;
}

/** Resident memory of a process, MiB. */
const rssMiB = (p: Proc): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.proc.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

function request(port: number, method: string, p: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve({ status: 0, text: 'response error' }));
    });
    req.on('error', (err) => resolve({ status: 0, text: String(err) }));
    // Framed explicitly: Node's client sends a GET/DELETE/OPTIONS body neither chunked nor with a
    // length, and the server then reads it as the next request.
    if (body !== undefined) req.setHeader('content-length', Buffer.byteLength(body));
    req.end(body);
  });
}

interface World {
  stack: TestStack;
  env: NodeJS.ProcessEnv;
  api: Proc;
  apiPort: number;
  worker: Proc;
  db: Database;
  temporal: Client;
  redis: Redis;
  users: Array<{ id: string; token: string; username: string; password: string }>;
  admin: { token: string };
}

/** A worker, once it serves its metrics (it has registered its schedules by then). */
async function startWorker(w: Pick<World, 'env'>, pool: boolean): Promise<Proc> {
  const metricsPort = await freePort();
  const worker = spawnBuilt(pool ? 'worker-pool' : 'worker', 'worker/main', { ...w.env, HACKSTREAM_POOL: pool ? `firefox:auto:${POOL_SIZE}` : 'off', HACKSTREAM_WORKER_METRICS_PORT: String(metricsPort) });
  const deadline = Date.now() + 120_000;
  while ((await request(metricsPort, 'GET', '/metrics', {})).status !== 200) {
    if (worker.proc.exitCode !== null || Date.now() > deadline) throw new Error(`the worker did not start: see ${worker.logFile}`);
    await sleep(500);
  }
  return worker;
}

async function login(port: number, username: string, password: string): Promise<string> {
  const res = await request(port, 'POST', '/v1/login', { 'content-type': 'application/json' }, JSON.stringify({ username, password }));
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${res.text}`);
  return String((JSON.parse(res.text) as { access_token: string }).access_token);
}

async function setUp(): Promise<World> {
  log('building the control plane if its sources changed (stack/build-app.sh) ...');
  const build = spawnSync('bash', [path.join(REPO_ROOT, 'stack', 'build-app.sh')], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('stack/build-app.sh failed');
  log('starting the stack (Redis, Temporal dev server, Traefik) ...');
  const stack = await startTestStack();
  const apiPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...stack.env,
    HACKSTREAM_TASK_QUEUE: QUEUE,
    HACKSTREAM_API_PORT: String(apiPort),
    HACKSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
    HACKSTREAM_SECRET_KEY: randomBytes(32).toString('hex'),
    HACKSTREAM_ADMIN_USERNAME: 'admin',
    HACKSTREAM_ADMIN_PASSWORD: randomBytes(16).toString('hex'),
    HACKSTREAM_LOG_LEVEL: 'warn',
    // The API claims from the pools its configuration names (the worker of the first burst runs
    // with none: every claim misses).
    HACKSTREAM_POOL: `firefox:auto:${POOL_SIZE}`,
    HACKSTREAM_ACCESS_TOKEN_TTL_SECONDS: '3600',
    HACKSTREAM_ROLE_POLICIES: JSON.stringify({ user: { maxSessions: 3, memoryMb: 768 }, admin: { maxSessions: 0 } }),
  };
  const api = spawnBuilt('api', 'api/main', env);
  log(`the API's and workers' output: ${LOG_DIR}`);
  const worker = await startWorker({ env }, false);
  const deadline = Date.now() + 90_000;
  while ((await request(apiPort, 'GET', '/ready', {})).status !== 200) {
    if (Date.now() > deadline) throw new Error(`the API did not become ready: see ${LOG_DIR}`);
    await sleep(500);
  }
  const db = await openDatabase(loadApiConfig(env).db);
  const temporal = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
  const redis = new Redis(stack.env['HACKSTREAM_REDIS_URL']!);
  const directory = new UserDirectory(db);
  const users = [];
  for (let i = 0; i < 10; i++) {
    const username = `load-${i}-${randomBytes(3).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    const u = await directory.create(username, password, 'user');
    users.push({ id: u.id, username, password, token: await login(apiPort, username, password) });
  }
  const admin = { token: await login(apiPort, 'admin', env['HACKSTREAM_ADMIN_PASSWORD']!) };
  return { stack, env, api, apiPort, worker, db, temporal, redis, users, admin };
}

const post = (w: World, p: string, token: string, body: unknown) =>
  request(w.apiPort, 'POST', p, { 'content-type': 'application/json', authorization: `Bearer ${token}` }, JSON.stringify(body));

/** Containers, networks and non-final rows of the load's sessions that are left (warm ones excepted). */
async function leftBehind(w: World): Promise<{ containers: number; networks: number; liveRows: number }> {
  const ready = new Set((await w.redis.lrange(poolReadyKey(QUEUE, DEFAULT_NODE_ID, 'firefox-auto', loadApiConfig(w.env).apps['firefox']!.image), 0, -1)).map((r) => (JSON.parse(r) as { sessionId: string }).sessionId));
  const containers = (await docker.listContainers({ all: true, filters: { label: [stackLabelFilter(QUEUE)] } })).filter((c) => !ready.has(c.Labels['io.hackstream.session']!)).length;
  const networks = (await docker.listNetworks({ filters: { label: [stackLabelFilter(QUEUE)] } })).filter((n) => !ready.has(n.Labels?.['io.hackstream.session'] ?? '')).length;
  const liveRows = await w.db.em.fork().count(Session, { userId: { $in: w.users.map((u) => u.id) }, state: { $nin: [...FINAL_STATES] } });
  return { containers, networks, liveRows };
}

/** Stops these sessions (those already ending are not affected) and waits until no row of the load's users is live; how long that took. */
/**
 * What is left once things settle. Teardown is over once the rows are final; the pool's refill
 * is under way then, and a warm container that is not ready yet counts as left: it gets the time
 * a warm-up takes. (A leaked one stays: the reconciler's grace period is longer.)
 */
async function settledLeftovers(w: World): Promise<{ containers: number; networks: number; liveRows: number }> {
  let left = await leftBehind(w);
  for (const deadline = Date.now() + 90_000; left.containers + left.networks > 0 && Date.now() < deadline; left = await leftBehind(w)) await sleep(3000);
  return left;
}

async function stopAll(w: World, ids: string[]): Promise<number> {
  const started = Date.now();
  await Promise.all(ids.map((id) => w.temporal.workflow.getHandle(sessionWorkflowId(id)).signal('stop', { reason: 'admin_stop', by: 'load-bench' }).catch(() => undefined)));
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline && (await leftBehind(w)).liveRows > 0) await sleep(1000);
  return Date.now() - started;
}

interface Answer {
  /** A 503/504 after the workflow started names its session, which is being torn down. */
  error?: { code?: string; session_id?: string };
  session_id?: string;
  start?: string;
}

function parseAnswer(text: string): Answer | null {
  try {
    return JSON.parse(text) as Answer;
  } catch {
    return null;
  }
}

async function burst(w: World, label: string) {
  const started = Date.now();
  const results = await Promise.all(
    w.users.flatMap((u) =>
      [0, 1, 2].map(async () => {
        const t0 = Date.now();
        const res = await post(w, '/v1/sessions', u.token, { app: 'firefox' });
        const body = parseAnswer(res.text);
        return { status: res.status, ms: Date.now() - t0, code: body?.error?.code, id: body?.session_id ?? body?.error?.session_id, start: body?.start };
      }),
    ),
  );
  const answers: Record<string, number> = {};
  for (const r of results) {
    const key = r.status === 201 ? `201 ${r.start}` : `${r.status} ${r.code ?? '(no JSON error)'}`;
    answers[key] = (answers[key] ?? 0) + 1;
  }
  const ms = results.filter((r) => r.status === 201).map((r) => r.ms).sort((a, b) => a - b);
  const all = Date.now() - started;
  const ids = results.flatMap((r) => (r.id ? [r.id] : []));
  const drainedMs = await stopAll(w, ids);
  const left = await settledLeftovers(w);
  const unclean = results.filter((r) => r.status !== 201 && !(r.code && [429, 503, 504].includes(r.status))).length;
  const p50 = ms[Math.floor(ms.length / 2)] ?? null;
  log(`${label}: ${JSON.stringify(answers)}; all answered in ${all} ms; 201 p50 ${p50} ms max ${ms.at(-1)} ms; all ended ${drainedMs} ms after the stops; left: ${JSON.stringify(left)}`);
  return { label, answers, unclean, allAnsweredMs: all, createdP50Ms: p50, createdMaxMs: ms.at(-1) ?? null, endedAfterStopMs: drainedMs, left };
}

function hostileRequests(w: World, n: number) {
  const id = randomUUID();
  const paths = ['/v1/sessions', `/v1/sessions/${id}`, `/v1/sessions/${id}/stop`, `/v1/sessions/${id}/connect`, '/v1/login', '/v1/token/refresh', '/v1/redeem', '/v1/logout', '/v1/quotas', '/v1/users', `/v1/users/${id}`, '/v1/audit', '/v1/roles/user/egress', '/v1/totp/enroll', '/health', '/ready', '/ca.pem', '/apt/', '/'];
  const token = fc.oneof(
    fc.constant(undefined),
    fc.constant(`Bearer ${w.users[0]!.token}`),
    fc.constant(`Bearer ${w.admin.token}`),
    fc.string().map((s) => `Bearer ${s}`),
    fc.base64String().map((s) => `Bearer eyJhbGciOiJub25lIn0.${s}.`),
    fc.string(),
  );
  const body = fc.oneof(
    fc.constant(undefined),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.record({ app: fc.jsonValue(), url: fc.oneof(fc.webUrl(), fc.string(), fc.constant('javascript:alert(1)'), fc.constant('file:///etc/passwd')), quality: fc.jsonValue(), profile: fc.jsonValue() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    fc.record({ username: fc.string(), password: fc.string(), totp_code: fc.jsonValue(), role: fc.jsonValue(), quota: fc.jsonValue(), disabled: fc.jsonValue() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 2000 }),
    fc.constant(`{"a":"${'x'.repeat(300_000)}"}`),
    fc.constant('{"app": "firefox", "url": "http://169.254.169.254/latest/meta-data/"}'),
  );
  const pathArb = fc.oneof(
    fc.constantFrom(...paths),
    fc.tuple(fc.constantFrom(...paths), fc.string()).map(([p, s]) => `${p}/${encodeURIComponent(s)}`),
    fc.tuple(fc.constantFrom(...paths), fc.webQueryParameters()).map(([p, q]) => `${p}?${q}`),
    fc.webPath().map((p) => p || '/'),
    fc.constantFrom('/v1/sessions/..%2f..%2fetc%2fpasswd', '/v1//sessions', '/v1/sessions/%00', `/v1/sessions/${'a'.repeat(5000)}`),
  );
  const requestArb = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS', 'HEAD'),
    path: pathArb,
    authorization: token,
    contentType: fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'multipart/form-data'),
    body,
  });
  return fc.sample(requestArb, { numRuns: n, seed: 4242 });
}

async function hostile(w: World) {
  const requests = hostileRequests(w, HOSTILE);
  const statuses: Record<string, number> = {};
  const fiveXX: string[] = [];
  const memory: Array<{ after: number; rssMiB: number; heapMiB: number }> = [{ after: 0, rssMiB: rssMiB(w.api), heapMiB: await apiHeapMiB(w.apiPort) }];
  let next = 0;
  let done = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        const headers: Record<string, string> = {};
        if (r.authorization !== undefined) headers['authorization'] = r.authorization.replace(/[^\t\x20-\x7e]/g, '?');
        if (r.contentType) headers['content-type'] = r.contentType;
        const res = await request(w.apiPort, r.method, r.path.replace(/[^\x21-\x7e]/g, encodeURIComponent), headers, r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status >= 500 || res.status === 0) fiveXX.push(`${r.method} ${r.path.slice(0, 80)} → ${res.status} ${res.text.slice(0, 160)}`);
        if (++done % 2500 === 0) memory.push({ after: done, rssMiB: rssMiB(w.api), heapMiB: await apiHeapMiB(w.apiPort) });
      }
    }),
  );
  log(`hostile: ${done} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(statuses)}; 5xx/none: ${fiveXX.length}; API RSS ${memory.map((m) => m.rssMiB.toFixed(0)).join(' → ')} MiB, heap used ${memory.map((m) => m.heapMiB.toFixed(0)).join(' → ')} MiB`);
  for (const f of fiveXX.slice(0, 10)) log(`  ${f}`);
  return { requests: done, ms: Date.now() - started, statuses, fiveXX: fiveXX.length, examples: fiveXX.slice(0, 20), apiRssMiB: memory };
}

async function soak(w: World) {
  // The hostile requests logged some of these users out.
  for (const u of w.users) u.token = await login(w.apiPort, u.username, u.password);
  const memory: Array<{ after: number; apiMiB: number; workerMiB: number }> = [{ after: 0, apiMiB: rssMiB(w.api), workerMiB: rssMiB(w.worker) }];
  const history: number[] = [];
  const failures: Record<string, number> = {};
  let next = 0;
  let done = 0;
  const started = Date.now();
  await Promise.all(
    w.users.slice(0, 4).map(async (u) => {
      while (next < SOAK) {
        next++;
        const res = await post(w, '/v1/sessions', u.token, { app: 'firefox' });
        if (res.status !== 201) {
          const key = `${res.status} ${res.text.slice(0, 80)}`;
          failures[key] = (failures[key] ?? 0) + 1;
          if (res.status === 401) return; // this user is done; the others go on
          await sleep(1000);
          continue;
        }
        const id = String((JSON.parse(res.text) as { session_id: string }).session_id);
        await post(w, `/v1/sessions/${id}/stop`, u.token, {});
        const handle = w.temporal.workflow.getHandle(sessionWorkflowId(id));
        await handle.result().catch(() => undefined);
        history.push((await handle.describe()).historyLength);
        if (++done % 50 === 0) {
          memory.push({ after: done, apiMiB: rssMiB(w.api), workerMiB: rssMiB(w.worker) });
          log(`soak: ${done}/${SOAK} lifecycles, API ${memory.at(-1)!.apiMiB.toFixed(0)} MiB, worker ${memory.at(-1)!.workerMiB.toFixed(0)} MiB`);
        }
      }
    }),
  );
  const left = await settledLeftovers(w);
  history.sort((a, b) => a - b);
  const result = {
    lifecycles: done,
    ms: Date.now() - started,
    failures,
    historyEventsPerSession: { p50: history[Math.floor(history.length / 2)] ?? null, max: history.at(-1) ?? null },
    memory,
    left,
  };
  log(`soak: ${JSON.stringify({ ...result, memory: undefined })}`);
  return result;
}

async function main(): Promise<void> {
  const w = await setUp();
  // A run of some phases keeps the figures of the others from the file; each phase has its date.
  const out = path.join(REPO_ROOT, 'bench', 'results', 'load-bench.json');
  const results: Record<string, unknown> = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>) : {};
  delete results['date'];
  const measured = <T extends object>(figures: T) => ({ date: new Date().toISOString(), ...figures });
  try {
    if (ONLY.has('bursts')) {
      const off = await burst(w, 'burst, pool off');
      await stopProc(w.worker);
      w.worker = await startWorker(w, true);
      const key = poolReadyKey(QUEUE, DEFAULT_NODE_ID, 'firefox-auto', loadApiConfig(w.env).apps['firefox']!.image);
      const deadline = Date.now() + 180_000;
      while ((await w.redis.llen(key)) < POOL_SIZE && Date.now() < deadline) await sleep(1000);
      const on = await burst(w, `burst, pool of ${POOL_SIZE}`);
      results['bursts'] = measured({ runs: [off, on] });
    }
    if (ONLY.has('hostile')) results['hostile'] = measured(await hostile(w));
    if (ONLY.has('soak')) results['soak'] = measured(await soak(w));
  } finally {
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    log(`written to ${path.relative(REPO_ROOT, out)}`);
    await stopProc(w.api);
    await stopProc(w.worker);
    for (const c of await docker.listContainers({ all: true, filters: { label: [stackLabelFilter(QUEUE)] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    for (const n of await docker.listNetworks({ filters: { label: [stackLabelFilter(QUEUE)] } })) await docker.getNetwork(n.Id).remove().catch(() => undefined);
    w.redis.disconnect();
    await w.temporal.connection.close();
    await w.db.close();
    await w.stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
