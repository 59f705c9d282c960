/**
 * The README's first quick-start command, for real: stack/up.sh brings everything up in a fresh
 * data directory (own ports), and running it again is a no-op that still ends with all of it up.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_TASK_QUEUE } from '../../core/config.js';
import { DEFAULT_NODE_ID } from '../../core/node-names.js';
import { execIn, removePoolContainers, sessionContainers } from '../support/docker.js';
import { httpsRequest } from '../support/https-client.js';
import { REPO_ROOT } from '../support/paths.js';
import { freePort } from '../support/ports.js';
import { until } from '../support/until.js';
import { openEntries, PUBLIC_BY_DESIGN } from '../security/files-at-rest.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hs-quickstart-'));
/** The CA the stack creates, which its ingress's certificate is verified against. */
const caFile = path.join(dataDir, 'ca', 'ca.pem');
let env: NodeJS.ProcessEnv = {};
/** The admin account the first up.sh printed. */
let admin = { username: '', password: '' };
/** Sessions a test here started: a failed test leaves them to afterAll, whose down.sh would not end them. */
const ownSessions: string[] = [];

function run(script: string): { status: number | null; output: string } {
  const res = spawnSync(path.join(REPO_ROOT, 'stack', script), [], { env, encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

/** The stack's ingress: https://localhost:<its public port>. */
const ingressOrigin = () => `https://localhost:${env['HACKSTREAM_PUBLIC_PORT']}`;

/** The admin's access token: POST /v1/login through the ingress, which must succeed. */
async function adminToken(): Promise<string> {
  const res = await httpsRequest(`${ingressOrigin()}/v1/login`, { caFile, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(admin) });
  expect(res.status, res.text).toBe(200);
  return String(JSON.parse(res.text).access_token);
}

/** The API through the ingress with an access token, JSON in and out. */
async function callApi(token: string, method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await httpsRequest(`${ingressOrigin()}${route}`, {
    caFile, method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.text ? JSON.parse(res.text) : undefined };
}

/** Best effort, through the API: each of `ownSessions` asked to stop, and given a minute to end. */
async function stopOwnSessions(): Promise<void> {
  const token = await adminToken().catch(() => null);
  if (token === null) return;
  for (const id of ownSessions) {
    await callApi(token, 'POST', `/v1/sessions/${id}/stop`).catch(() => null);
    await until(`session ${id} ended`, async () => ((await sessionContainers(id)).length === 0 ? true : null), 60_000, 500).catch(() => undefined);
  }
}

const SERVICES = ['redis', 'temporal', 'traefik', 'api', 'worker', 'node-gateway'];
const alive = (pid: string | undefined) => {
  try {
    return pid !== undefined && process.kill(Number(pid), 0);
  } catch {
    return false;
  }
};
const pids = () => Object.fromEntries(SERVICES.map((name) => [name, readFileSync(path.join(dataDir, 'run', `${name}.pid`), 'utf8').trim()]));

afterAll(async () => {
  if (ownSessions.length > 0) await stopOwnSessions();
  if (env['HACKSTREAM_DATA_DIR']) run('down.sh');
  rmSync(dataDir, { recursive: true, force: true });
  // The worker killed with kill -9 below may have been making warm containers: owned by no
  // workflow, the next worker's reconciler would remove them once past their grace period, but
  // this stack has no next worker.
  await removePoolContainers(DEFAULT_TASK_QUEUE, DEFAULT_NODE_ID, 'firefox-auto');
});

describe('stack/up.sh', () => {
  it('brings the platform up, and a second run changes nothing and leaves it up', async () => {
    const [api, redis, temporal, ui, ingress] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    env = {
      ...process.env,
      HACKSTREAM_DATA_DIR: dataDir,
      HACKSTREAM_API_PORT: String(api),
      HACKSTREAM_PUBLIC_PORT: String(ingress),
      HACKSTREAM_REDIS_PORT: String(redis),
      HACKSTREAM_TEMPORAL_PORT: String(temporal),
      HACKSTREAM_TEMPORAL_UI_PORT: String(ui),
      // Small, so that the test below sees a rotation without writing 50 MiB.
      HACKSTREAM_LOG_ROTATE_MB: '1',
      HACKSTREAM_WORKER_METRICS_PORT: String(await freePort()),
      HACKSTREAM_NODE_GATEWAY_PORT: String(await freePort()),
      HACKSTREAM_TEMPORAL_METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
    };
    delete env['HACKSTREAM_ADMIN_PASSWORD'];

    const first = run('up.sh');
    expect(first.status, first.output).toBe(0);
    expect(first.output).toMatch(/redis: starting/);
    // Redis takes no client without a password (the users' passwords are in secrets.env).
    expect(spawnSync('redis-cli', ['-p', String(redis), 'ping'], { encoding: 'utf8' }).stdout).toMatch(/NOAUTH/);
    expect(first.output).toMatch(/temporal: starting/);
    expect(first.output).toMatch(/traefik: starting/);
    expect(first.output).toContain(`API:          https://localhost:${ingress}`);
    expect(first.output).toContain(`Temporal UI:  http://127.0.0.1:${ui}`);
    const credentials = /Admin:\s+(\S+) \/ (\S+)/.exec(first.output);
    expect(credentials, first.output).not.toBeNull();
    admin = { username: credentials![1]!, password: credentials![2]! };
    const before = pids();

    const second = run('up.sh');
    expect(second.status, second.output).toBe(0);
    const steps = second.output.split('\n').filter((l) => l.startsWith('==> '));
    expect(steps.filter((l) => /installing|building|starting|restarting|generating/.test(l)), second.output).toEqual([]);
    for (const service of [...SERVICES, 'watchdog']) {
      expect(steps.some((l) => l.startsWith(`==> ${service}: running`)), `${service} in:\n${second.output}`).toBe(true);
    }
    expect(pids()).toEqual(before);

    // Served through the ingress over HTTPS, verified against the CA the stack created.
    const ready = await httpsRequest(`${ingressOrigin()}/ready`, { caFile });
    expect(ready.status, ready.text).toBe(200);
    await adminToken();
    // The client's signed apt repository is served through the ingress.
    const release = await httpsRequest(`${ingressOrigin()}/apt/dists/stable/InRelease`, { caFile });
    expect(release.status).toBe(200);
    expect(release.text).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----/);
    expect(release.text).toMatch(/^Suite: stable$/m);
  });

  // Security hardening, point 11 (test/security/files-at-rest.ts): checked here, on this up.sh's
  // data directory, rather than by a second up.sh run.
  it('keeps its data directory private, but for what is public by design', async () => {
    // The warm pool's first container brings session files and a session route: wait for them.
    const routes = path.join(dataDir, 'traefik', 'dynamic');
    const deadline = Date.now() + 120_000;
    while (!readdirSync(routes).some((f) => f.startsWith('session-')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
    const { open, seen } = openEntries(dataDir);
    expect(open, `readable or writable by others (exceptions: ${PUBLIC_BY_DESIGN.map((e) => e.path).join(', ')})`).toEqual([]);
    // What it must have walked through, so that an empty directory cannot pass.
    for (const file of ['hackstream.sqlite', 'temporal.sqlite', 'secrets.env', 'redis/users.acl', 'ca/ca-key.pem', 'node-ca/ca-key.pem', 'traefik/traefik.yml', 'traefik/tls/ingress-key.pem']) {
      expect(seen).toContain(file);
    }
    for (const file of ['api', 'worker', 'temporal', 'traefik', 'redis']) expect(seen).toContain(`logs/${file}.log`);
    expect(seen).toContain('traefik/dynamic/hackstream-api.yml');
    expect(seen.filter((f) => /^traefik\/dynamic\/session-.+\.yml$/.test(f)), 'no session route appeared').not.toEqual([]);
    expect(seen.filter((f) => /^sessions\/[^/]+\/tls-key\.pem$/.test(f)), 'no session files appeared').not.toEqual([]);
  });
  it('restarts within seconds each component killed with kill -9, and rotates the logs', async () => {
    const pidOf = (name: string) => (existsSync(path.join(dataDir, 'run', `${name}.pid`)) ? readFileSync(path.join(dataDir, 'run', `${name}.pid`), 'utf8').trim() : undefined);
    const before = pids();
    const killedAt = Date.now();
    for (const name of SERVICES) process.kill(Number(before[name]), 'SIGKILL');

    const deadline = Date.now() + 180_000;
    let recovered = false;
    while (!recovered && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      const back = SERVICES.every((name) => pidOf(name) !== before[name] && alive(pidOf(name)));
      recovered = back && (await httpsRequest(`${ingressOrigin()}/ready`, { caFile }).then((r) => r.status === 200, () => false));
    }
    const watchdogLog = readFileSync(path.join(dataDir, 'logs', 'watchdog.log'), 'utf8');
    expect(recovered, `not all back and ready within 180 s; watchdog log:\n${watchdogLog}`).toBe(true);
    for (const name of SERVICES) expect(watchdogLog).toContain(`${name} is not running: starting it`);
    console.log(`all ${SERVICES.length} components killed with kill -9 were back and ready in ${Date.now() - killedAt} ms`);

    // A log past HACKSTREAM_LOG_ROTATE_MB (1 here) is rotated: the live file starts again, the old content is kept.
    const apiLog = path.join(dataDir, 'logs', 'api.log');
    appendFileSync(apiLog, `${'x'.repeat(1023)}\n`.repeat(1500));
    const rotatedBy = Date.now() + 60_000;
    // Done when the live file was truncated too: copytruncate creates api.log.1 first, copies into
    // it, and only then truncates api.log (a check in between saw both full).
    const rotated = () => existsSync(`${apiLog}.1`) && statSync(apiLog).size < 1024 * 1024;
    while (!rotated() && Date.now() < rotatedBy) await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(`${apiLog}.1`), 'api.log was not rotated').toBe(true);
    expect(statSync(`${apiLog}.1`).size).toBeGreaterThan(1500 * 1024);
    expect(statSync(apiLog).size).toBeLessThan(1024 * 1024);
  });

  it('keeps a persistent session and its profile through a restart of the whole platform (stack/down.sh, then stack/up.sh)', async () => {
    const persistentFirefox = async (token: string) => {
      const created = await callApi(token, 'POST', '/v1/sessions', { app: 'firefox', profile: 'persist' });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const [container] = await sessionContainers(created.body.session_id);
      ownSessions.push(String(created.body.session_id));
      return { id: String(created.body.session_id), containerId: container!.Id };
    };
    const stateOf = async (token: string, id: string) => String((await callApi(token, 'GET', `/v1/sessions/${id}`)).body?.state);
    const stop = async (token: string, id: string) => {
      expect([200, 202]).toContain((await callApi(token, 'POST', `/v1/sessions/${id}/stop`)).status);
      await until(`session ${id} stopped`, async () => ((await stateOf(token, id)) === 'stopped' ? true : null), 120_000, 250);
      ownSessions.splice(ownSessions.indexOf(id), 1);
    };
    const mark = '/home/hs/.mozilla/hackstream-profile/hs-mark';

    let token = await adminToken();
    const s = await persistentFirefox(token);
    expect((await execIn(s.containerId, ['sh', '-c', `echo kept-across-platform-restart > ${mark} && sync`])).exitCode).toBe(0);
    const served = await stateOf(token, s.id);
    expect(['ready', 'running']).toContain(served);

    // Every process of the platform stops: watchdog, API, worker, gateway, Traefik, Temporal, Redis
    // (the Docker engine, other software's too, stays up, and with it the session's container).
    const before = pids();
    const down = run('down.sh');
    expect(down.status, down.output).toBe(0);
    for (const name of SERVICES) expect(alive(before[name]), `${name} still runs after down.sh`).toBe(false);
    const up = run('up.sh');
    expect(up.status, up.output).toBe(0);
    for (const name of SERVICES) expect(up.output, name).toMatch(new RegExp(`==> ${name}: starting`));

    // The account, the session and its workflow lived through it (the database, Temporal's history
    // and the session's container are where the platform left them).
    token = await adminToken();
    expect(await stateOf(token, s.id)).toBe(served);
    expect((await sessionContainers(s.id)).map((c) => [c.Id, c.State])).toEqual([[s.containerId, 'running']]);
    // One writer still: the running session holds the profile.
    expect((await callApi(token, 'POST', '/v1/sessions', { app: 'firefox', profile: 'persist' })).status).toBe(409);
    await stop(token, s.id);

    const next = await persistentFirefox(token);
    expect((await execIn(next.containerId, ['cat', mark])).output.trim()).toBe('kept-across-platform-restart');
    await stop(token, next.id);
  });
});
