/**
 * The chaos suite: the whole platform brought up by stack/up.sh (its watchdog included) in a data
 * directory of its own, then N rounds. In each, one session is started before the kill and more
 * are created (warm and cold, half of them with their user's persistent profile) by several users, some stopped, some left to time out, while one component chosen at random is killed
 * with SIGKILL at a random moment: the worker, the API, the Temporal dev server, Redis, Traefik,
 * or (if asked) dockerd. Nothing restarts it but the stack's watchdog. After recovery and one
 * reconcile pass, the invariants are checked: every row final and its workflow closed, no
 * container, network, route file, key directory, credential or profile mount left that no
 * session owns, the quota used equal to the live sessions (none: so no profile is still held),
 * every create answered 201 or a clean error.
 *
 * `npm run chaos` runs it long (test/chaos/main.ts); test/e2e/chaos.test.ts runs a short variant.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import { LABELS, stackLabelFilter } from '../../activities/container-labels.js';
import { UserDirectory } from '../../api/users/user-directory.js';
import { openDatabase, type Database } from '../../core/db/orm.js';
import { AuditEvent } from '../../core/db/entities.js';
import { sessionWorkflowId } from '../../workflows/messages.js';
import { docker } from '../support/docker.js';
import { httpsRequest, type HttpsResponse } from '../support/https-client.js';
import { REPO_ROOT } from '../support/paths.js';
import { freePort } from '../support/ports.js';
import { reconcileNow } from '../support/reconcile-pass.js';

export const COMPONENTS = ['worker', 'api', 'temporal', 'redis', 'traefik', 'dockerd'] as const;
export type Component = (typeof COMPONENTS)[number];

export interface ChaosOptions {
  rounds: number;
  /** Which components may be killed. */
  components: readonly Component[];
  /** Sessions created per round (spread over the users). */
  sessionsPerRound?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  rounds: number;
  kills: Partial<Record<Component, number>>;
  sessions: number;
  /**
   * What the creates were answered, by status and error code (`502 api_unavailable`: the ingress
   * answered for an API that was down; `connection-lost`: the ingress itself was killed mid-request).
   */
  answers: Record<string, number>;
  /** Left-overs the reconciler removed (its audit records) during the run. */
  reconciled: number;
  /** Left-overs still found after recovery and a reconcile pass (must be 0). */
  orphans: number;
  violations: string[];
  /** Per round: from the kill until every component runs again and the API is ready. */
  recoveryMs: number[];
  worstRecoveryMs: number;
  /** Per round: from the kill until the invariants hold (sessions left alone end by their connect timeout). */
  cleanMs: number[];
}

const TIMEOUTS = { connect: 15, idle: 30 };
const RECONCILE = { interval: 10, grace: 30 };

/** A small seeded generator: a failing run can be repeated with its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Stack {
  dataDir: string;
  env: NodeJS.ProcessEnv;
  origin: string;
  caFile: string;
  taskQueue: string;
  temporal: Client;
  redis: Redis;
  db: Database;
}

async function upStack(log: (line: string) => void): Promise<Stack> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hs-chaos-'));
  const [api, redisPort, temporalPort, ui, ingress, metrics, sdkMetrics] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const taskQueue = `hs-chaos-${process.pid}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HACKSTREAM_DATA_DIR: dataDir,
    HACKSTREAM_API_PORT: String(api),
    HACKSTREAM_PUBLIC_PORT: String(ingress),
    HACKSTREAM_REDIS_PORT: String(redisPort),
    HACKSTREAM_TEMPORAL_PORT: String(temporalPort),
    HACKSTREAM_TEMPORAL_UI_PORT: String(ui),
    HACKSTREAM_WORKER_METRICS_PORT: String(metrics),
    HACKSTREAM_NODE_GATEWAY_PORT: String(await freePort()),
    HACKSTREAM_TEMPORAL_METRICS_ADDRESS: `127.0.0.1:${sdkMetrics}`,
    HACKSTREAM_TASK_QUEUE: taskQueue,
    HACKSTREAM_POOL: 'firefox:auto:1',
    HACKSTREAM_CONNECT_TIMEOUT_SECONDS: String(TIMEOUTS.connect),
    HACKSTREAM_IDLE_TIMEOUT_SECONDS: String(TIMEOUTS.idle),
    HACKSTREAM_RECONCILE_INTERVAL_SECONDS: String(RECONCILE.interval),
    HACKSTREAM_RECONCILE_GRACE_SECONDS: String(RECONCILE.grace),
    HACKSTREAM_CREATE_TIMEOUT_SECONDS: '90',
    HACKSTREAM_ROLE_POLICIES: JSON.stringify({ user: { maxSessions: 4 } }),
  };
  log(`stack/up.sh in ${dataDir} ...`);
  const up = spawnSync('bash', [path.join(REPO_ROOT, 'stack', 'up.sh')], { env, encoding: 'utf8', timeout: 900_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (up.status !== 0) throw new Error(`stack/up.sh failed (${up.status}):\n${up.stdout}${up.stderr}`);
  const secrets = Object.fromEntries(
    readFileSync(path.join(dataDir, 'secrets.env'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const temporal = new Client({ connection: await Connection.connect({ address: `127.0.0.1:${temporalPort}` }) });
  const redis = new Redis(`redis://hackstream-api:${secrets['REDIS_API_PASSWORD']}@127.0.0.1:${redisPort}`, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // killed on purpose; reconnects by itself
  const db = await openDatabase({ driver: 'sqlite', path: path.join(dataDir, 'hackstream.sqlite'), url: undefined });
  return { dataDir, env, origin: `https://localhost:${ingress}`, caFile: path.join(dataDir, 'ca', 'ca.pem'), taskQueue, temporal, redis, db };
}

async function downStack(stack: Stack): Promise<void> {
  stack.redis.disconnect();
  await stack.temporal.connection.close();
  await stack.db.close();
  spawnSync('bash', [path.join(REPO_ROOT, 'stack', 'down.sh')], { env: stack.env, stdio: 'ignore', timeout: 120_000 });
  // Sessions still running when it stopped (none, if every round ended clean) and warm ones; an
  // engine that does not answer (the run's finding) keeps them.
  const filters = { label: [stackLabelFilter(stack.taskQueue)] };
  for (const c of await docker.listContainers({ all: true, filters }).catch(() => [])) {
    await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  }
  for (const n of await docker.listNetworks({ filters }).catch(() => [])) {
    await docker.getNetwork(n.Id).remove().catch(() => undefined);
  }
  rmSync(stack.dataDir, { recursive: true, force: true });
}

type Call = (method: string, p: string, opts?: { token?: string; body?: unknown }) => Promise<HttpsResponse & { json: any }>;

function caller(stack: Stack): Call {
  return async (method, p, opts = {}) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
    const res = await httpsRequest(`${stack.origin}${p}`, { caFile: stack.caFile, method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    let json: any;
    try {
      json = JSON.parse(res.text);
    } catch {
      json = null;
    }
    return { ...res, json };
  };
}

function pidOf(stack: Stack, component: Component): number | null {
  const file = component === 'dockerd' ? '/var/run/docker.pid' : path.join(stack.dataDir, 'run', `${component}.pid`);
  const pid = Number(existsSync(file) ? readFileSync(file, 'utf8').trim() : NaN);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

const alive = (pid: number | null) => {
  try {
    return pid !== null && process.kill(pid, 0);
  } catch {
    return false;
  }
};

/** Every component running again (the killed one with a new process) and the API ready through the ingress. */
async function recovered(stack: Stack, call: Call, killed: Component, killedPid: number, deadlineMs: number): Promise<boolean> {
  while (Date.now() < deadlineMs) {
    const back = (['worker', 'api', 'temporal', 'redis', 'traefik'] as const).every((c) => alive(pidOf(stack, c)));
    const killedBack = pidOf(stack, killed) !== killedPid && alive(pidOf(stack, killed));
    if (back && killedBack) {
      const ready = await call('GET', '/ready').catch(() => null);
      if (ready?.status === 200) return true;
    }
    await sleep(250);
  }
  return false;
}

/** What this stack has left behind that no live session and no ready warm container owns. */
async function leftovers(stack: Stack): Promise<string[]> {
  const ready = new Set<string>();
  for (const key of await scanKeys(stack.redis, 'hackstream:pool:*:ready')) {
    for (const raw of await stack.redis.lrange(key, 0, -1)) ready.add((JSON.parse(raw) as { sessionId: string }).sessionId);
  }
  const found: string[] = [];
  for (const c of await docker.listContainers({ all: true, filters: { label: [stackLabelFilter(stack.taskQueue)] } })) {
    const id = c.Labels[LABELS.session]!;
    if (!ready.has(id)) found.push(`container of ${id} (${c.State}${c.Labels[LABELS.pool] ? ', pool' : ''})`);
  }
  for (const n of await docker.listNetworks({ filters: { label: [stackLabelFilter(stack.taskQueue)] } })) {
    const id = n.Labels?.[LABELS.session] ?? '?';
    if (!ready.has(id)) found.push(`network of ${id}`);
  }
  const routes = path.join(stack.dataDir, 'traefik', 'dynamic');
  for (const f of readdirSync(routes).filter((name) => name.startsWith('session-'))) {
    if (!ready.has(f.slice('session-'.length, -'.yml'.length))) found.push(`route file ${f}`);
  }
  const sessions = path.join(stack.dataDir, 'sessions');
  for (const d of existsSync(sessions) ? readdirSync(sessions) : []) if (!ready.has(d)) found.push(`key directory ${d}`);
  for (const key of await scanKeys(stack.redis, 'hackstream:credentials:*')) found.push(`credential index ${key}`);
  // A persistent profile's mount point of a session that has ended: still mounted, or left behind
  // (the reconciler would find it at every pass).
  const mounts = path.join(stack.dataDir, 'profiles', 'mounts');
  const mounted = new Set(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((line) => line.split(' ')[4] ?? ''));
  for (const d of existsSync(mounts) ? readdirSync(mounts) : []) {
    found.push(`profile mount point ${d}${mounted.has(path.join(mounts, d)) ? ' (mounted)' : ''}`);
  }
  return found;
}

async function scanKeys(redis: Redis, match: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanStream({ match, count: 500 }) as AsyncIterable<string[]>) keys.push(...batch);
  return keys;
}

/** The invariants once a round has settled; the list of what does not hold. */
async function invariants(stack: Stack, call: Call, users: Array<{ id: string; token: string }>): Promise<string[]> {
  const broken: string[] = [];
  for (const user of users) {
    const listed = await call('GET', '/v1/sessions?limit=100', { token: user.token });
    for (const s of (listed.json?.sessions ?? []) as Array<{ session_id: string; state: string }>) {
      if (!['stopped', 'failed'].includes(s.state)) broken.push(`session ${s.session_id} is still ${s.state}`);
      const status = await stack.temporal.workflow
        .getHandle(sessionWorkflowId(s.session_id))
        .describe()
        .then((d) => d.status.name, () => 'MISSING');
      if (status === 'RUNNING') broken.push(`session ${s.session_id}'s row is ${s.state} but its workflow still runs`);
    }
    const quota = await call('GET', '/v1/quotas', { token: user.token });
    if (quota.json?.usage?.sessions !== 0) broken.push(`user ${user.id} still uses ${quota.json?.usage?.sessions} sessions of the quota`);
  }
  return broken;
}

/**
 * Once a round's creates are answered: every session of the round ends by its timeouts (the
 * stopped ones sooner), then one reconcile pass; the invariants must hold within a reconcile
 * interval after it. What does not hold is added to the report; throws when a check cannot run.
 */
async function settle(stack: Stack, call: Call, users: Array<{ id: string; token: string }>, report: ChaosReport, round: number) {
  const settleBy = Date.now() + (TIMEOUTS.connect + TIMEOUTS.idle + RECONCILE.interval + 60) * 1000;
  let broken = await invariants(stack, call, users);
  while (broken.length > 0 && Date.now() < settleBy) {
    await sleep(2000);
    broken = await invariants(stack, call, users);
  }
  const pass = await reconcileNow(stack.temporal, stack.taskQueue).catch((err: unknown) => {
    report.violations.push(`round ${round}: the reconcile pass failed: ${String(err)}`);
    return null;
  });
  let left = await leftovers(stack);
  // A warm container being started is not ready yet: it gets the time a warm-up takes.
  const leftBy = Date.now() + 90_000;
  while (left.length > 0 && Date.now() < leftBy) {
    await sleep(3000);
    left = await leftovers(stack);
  }
  broken = [...broken, ...(await invariants(stack, call, users))];
  report.orphans += left.length;
  report.violations.push(...[...new Set(broken)].map((b) => `round ${round}: ${b}`), ...left.map((l) => `round ${round}: left behind: ${l}`));
  return { pass };
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const rnd = random(opts.seed ?? Date.now());
  const perRound = opts.sessionsPerRound ?? 3;
  const report: ChaosReport = { rounds: 0, kills: {}, sessions: 0, answers: {}, reconciled: 0, orphans: 0, violations: [], recoveryMs: [], worstRecoveryMs: 0, cleanMs: [] };
  const stack = await upStack(log);
  const call = caller(stack);
  try {
    const directory = new UserDirectory(stack.db);
    const users: Array<{ id: string; token: string; username: string; password: string }> = [];
    for (let i = 0; i < 2; i++) {
      const username = `chaos-${i}-${randomBytes(3).toString('hex')}`;
      const password = randomBytes(12).toString('hex');
      const created = await directory.create(username, password, 'user');
      users.push({ id: created.id, token: '', username, password });
    }
    const login = async (u: (typeof users)[number]) => {
      for (let i = 0; ; i++) {
        const res = await call('POST', '/v1/login', { body: { username: u.username, password: u.password } }).catch(() => null);
        if (res?.status === 200) return void (u.token = String(res.json.access_token));
        if (i > 120) throw new Error(`cannot log in ${u.username}: ${res?.status} ${res?.text.slice(0, 200)}`);
        await sleep(500);
      }
    };

    for (let round = 1; round <= opts.rounds; round++) {
      const violationsBefore = report.violations.length;
      for (const u of users) await login(u); // access tokens are short-lived; a round can outlast one
      const component = opts.components[Math.floor(rnd() * opts.components.length)]!;
      const killAfterMs = Math.floor(rnd() * 6000);
      const createdIds: string[] = [];
      // One session is live before anything is killed: whatever the kill's moment and whichever
      // component, the round has a session to clean up (the creates racing the kill may all be
      // answered 503 when Temporal or Redis goes first). Its create must succeed: nothing is down yet.
      // Status 0: the connection itself was lost (the ingress, the client's peer, was killed).
      const create = (token: string, body: object) => call('POST', '/v1/sessions', { token, body }).catch((err: unknown) => ({ status: 0, text: String(err), json: null, headers: {} }));
      const before = await create(users[0]!.token, { app: 'firefox' });
      if (before.status === 201) createdIds.push(String(before.json.session_id));
      else report.violations.push(`round ${round}: a create before the kill got ${before.status}: ${before.text.slice(0, 120)}`);
      const creates = Array.from({ length: perRound }, async (_, i) => {
        const user = users[i % users.length]!;
        // Every other one with its user's persistent profile: its lock (409 profile_in_use for a
        // second one of the same user) and its mount must be free again once the round settled.
        const body = { app: 'firefox', ...(i % 2 === 1 ? { profile: 'persist' } : {}) };
        const res = await create(user.token, body);
        // Any answer is JSON: the API's, or the ingress's for an API that is down (502
        // api_unavailable). The session, if it started, must still end (the settled invariants below).
        const key = res.status === 201 ? '201' : res.json?.error?.code ? `${res.status} ${res.json.error.code}` : res.status === 0 ? 'connection-lost' : `${res.status} (no JSON)`;
        report.answers[key] = (report.answers[key] ?? 0) + 1;
        if (res.status > 0 && res.status !== 201 && !res.json?.error?.code) {
          report.violations.push(`round ${round}: a create got ${res.status} without a JSON error: ${res.text.slice(0, 120)}`);
        }
        if (res.status === 201) {
          createdIds.push(String(res.json.session_id));
          // Half are stopped by their user soon; the others are left to the connect timeout.
          if (rnd() < 0.5) {
            await sleep(Math.floor(rnd() * 3000));
            await call('POST', `/v1/sessions/${res.json.session_id}/stop`, { token: user.token }).catch(() => null);
          }
        }
      });
      await sleep(killAfterMs);
      const pid = pidOf(stack, component);
      const killedAt = Date.now();
      if (pid !== null && alive(pid)) process.kill(pid, 'SIGKILL');
      report.kills[component] = (report.kills[component] ?? 0) + 1;
      const back = await recovered(stack, call, component, pid ?? -1, killedAt + 180_000);
      if (!back) report.violations.push(`round ${round}: the stack did not recover from killing ${component} within 180 s`);
      const recoveryMs = Date.now() - killedAt;
      report.recoveryMs.push(recoveryMs);
      report.worstRecoveryMs = Math.max(report.worstRecoveryMs, recoveryMs);
      await Promise.all(creates);
      report.sessions += createdIds.length;

      // A check that cannot run (the Docker engine, Redis or the API not answering after the
      // recovery's deadline) is the run's last finding: it is recorded and the run ends, its
      // report kept.
      const settled = await Promise.all(users.map(login))
        .then(() => settle(stack, call, users, report, round))
        .catch((err: unknown) => {
        report.violations.push(`round ${round}: the checks could not run, the run ends: ${String(err)}`);
        return null;
      });
      if (!settled) {
        report.rounds = round;
        log(`round ${round}/${opts.rounds}: killed ${component}; ${report.violations.at(-1)}`);
        break;
      }
      const { pass } = settled;
      const cleanMs = Date.now() - killedAt;
      report.cleanMs.push(cleanMs);
      report.rounds = round;
      log(
        `round ${round}/${opts.rounds}: killed ${component} after ${killAfterMs} ms; ${createdIds.length} sessions; back and ready in ${recoveryMs} ms, clean in ${cleanMs} ms; reconcile pass: ${pass ? pass.reconciled : '-'} reconciled; violations so far: ${report.violations.length}`,
      );
      for (const v of report.violations.slice(violationsBefore)) log(`  ${v}`);
    }
    report.reconciled = await stack.db.em.fork().count(AuditEvent, { action: { $like: 'reconcile.%' } });
    return report;
  } finally {
    await downStack(stack);
  }
}
