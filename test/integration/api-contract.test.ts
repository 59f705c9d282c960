/**
 * The API's contract (api/contract/): the OpenAPI document is valid OpenAPI 3.1, it names every
 * route Express has and no other, the README's API table names the same routes, and a real
 * response of every route parses with its schema (the API under test checks every response it
 * gets, here and in every other test that calls the API). `/docs/` renders in Chromium from the
 * stack alone.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OPERATIONS } from '../../api/contract/operations.js';
import { CONNECT_AUTH_PATH } from '../../core/ingress-names.js';
import { openDatabase } from '../../core/db/orm.js';
import { NodeRegistry } from '../../core/node-registry.js';
import { ProfileRows } from '../../core/profile-rows.js';
import { loadWorkerConfig } from '../../core/config.js';
import { createNodeKey, signNodeToken } from '../../core/node-identity.js';
import { expressRoutes, findOperation } from '../support/api-contract.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { launchChromium, type TestBrowser } from '../support/browser.js';
import { REPO_ROOT } from '../support/paths.js';

const workerConfig = loadWorkerConfig(inject('stack').env);

let t: ApiUnderTest;
let aptDir: string;
const exercised = new Set<string>();

/** Calls the API (which checks the answer against the contract) and notes the operation as covered. */
async function covered(method: string, path: string, opts: Parameters<ApiUnderTest['call']>[2] = {}, expected?: number) {
  const res = await t.call(method, path, opts);
  if (expected !== undefined) expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(expected);
  const op = findOperation(method, path)!;
  if (res.status < 400) exercised.add(`${op.method.toUpperCase()} ${op.path}`);
  return res;
}

beforeAll(async () => {
  aptDir = mkdtempSync(path.join(os.tmpdir(), 'hs-apt-'));
  mkdirSync(path.join(aptDir, 'dists', 'stable'), { recursive: true });
  writeFileSync(path.join(aptDir, 'dists', 'stable', 'InRelease'), 'Origin: HackStream\n');
  // The ingress (Traefik, on 127.0.0.1) stands in for a sign-in proxy, so that its route has a success too.
  t = await startApiUnderTest({ HACKSTREAM_APT_REPO_DIR: aptDir, HACKSTREAM_AUTH_PROXY_SOURCES: '127.0.0.1/32', HACKSTREAM_AUTH_PROXY_DEFAULT_ROLE: 'user' });
}, 60_000);

afterAll(async () => {
  await t?.close();
  rmSync(aptDir, { recursive: true, force: true });
});

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1, served at /v1/openapi.json through the ingress', async () => {
    const res = await covered('GET', '/v1/openapi.json', {}, 200);
    const validator = new Validator();
    const result = await validator.validate(res.body);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(res.body.paths['/v1/sessions'].post.requestBody.content['application/json'].schema.properties.quality.enum).toEqual(['low', 'auto', 'high']);
    expect(res.body.components.schemas.Session.properties.state.enum).toContain('ready');
  });

  it('documents exactly the routes Express serves', () => {
    // The pages (/docs/, /ui/) are not API operations.
    const served = expressRoutes(t.api.app as never).filter((r) => !/ \/(docs|ui)\b/.test(r));
    // /apt/ is a static file tree mounted with `use`, not a route: it is exercised below.
    const documented = OPERATIONS.filter((op) => op.path !== '/apt/{file}').map((op) => `${op.method.toUpperCase()} ${op.path}`);
    expect([...new Set(served)].sort()).toEqual([...documented].sort());
  });

  it("agrees with the README's API table", () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('| method and path | auth | what it does |');
    const table = readme.slice(start, readme.indexOf('\n\n', start)).split('\n').slice(2);
    const listed = new Set<string>();
    for (const row of table) {
      const firstCell = row.split(' | ')[0]!;
      for (const [, method, route] of firstCell.matchAll(/`(GET|POST|PUT|PATCH|DELETE) ([^`\s[?]+)/g)) {
        listed.add(`${method} ${route!.replace(/:(\w+)/g, '{$1}').replace('/apt/…', '/apt/{file}')}`);
      }
    }
    const publicOps = OPERATIONS.filter((op) => op.access !== 'internal').map((op) => `${op.method.toUpperCase()} ${op.path}`);
    expect([...listed].sort()).toEqual(publicOps.sort());
  });
});

describe('every route answers as its contract says', () => {
  it('health, files and the ForwardAuth check', async () => {
    await covered('GET', '/health', {}, 200);
    await covered('GET', '/ready');
    await covered('GET', '/ca.pem', {}, 200);
    await covered('GET', '/apt/dists/stable/InRelease', {}, 200);
    await covered('GET', '/apt/dists/stable/Missing', {}, 404);
    // Only on the API's own address (the ingress does not route it); no session host: refused.
    const metrics = await direct(`${t.api.url}/metrics`);
    expect(metrics.status).toBe(200);
    exercised.add('GET /metrics');
    const forward = await direct(`${t.api.url}${CONNECT_AUTH_PATH}`);
    expect(forward.status).toBe(403);
    expect(JSON.parse(forward.text).error.code).toBe('forbidden');
  });

  it('accounts, sessions and administration, on their success paths and their errors', async () => {
    const admin = await t.newUser('admin');
    // An invitation, redeemed: the invited user logs in, refreshes, enrols TOTP, changes the password.
    const username = `c-${Date.now().toString(36)}`;
    const invited = await covered('POST', '/v1/users', { token: admin.token, body: { username } }, 201);
    await covered('POST', '/v1/redeem', { body: { code: invited.body.invite.code, password: 'a long enough password' } }, 200);
    const pair = (await covered('POST', '/v1/login', { body: { username, password: 'a long enough password' } }, 200)).body;
    const refreshed = (await covered('POST', '/v1/token/refresh', { body: { refresh_token: pair.refresh_token } }, 200)).body;
    const token = refreshed.access_token as string;
    await covered('GET', '/v1/me', { token }, 200);
    // Through the sign-in proxy.
    const vouched = { 'X-Forwarded-Preferred-Username': `p-${username}`, 'X-Forwarded-Groups': 'staff' };
    expect((await covered('GET', '/v1/auth/methods', { headers: vouched }, 200)).body).toEqual({ password: true, proxy: true });
    await covered('POST', '/v1/auth/proxy', { headers: vouched }, 200);
    await covered('POST', '/v1/auth/proxy', {}, 401);
    await covered('GET', '/v1/quotas', { token }, 200);
    const begin = await covered('POST', '/v1/me/totp', { token, body: { password: 'a long enough password' } }, 200);
    const secret = new URL(begin.body.otpauth_uri).searchParams.get('secret')!;
    await covered('POST', '/v1/me/totp/confirm', { token, body: { code: await generate({ secret }) } }, 200);

    // Sessions: a real one, started, listed, connected to and stopped.
    const created = await covered('POST', '/v1/sessions', { token, body: { app: 'firefox', url: 'https://example.com/' } }, 201);
    const id = created.body.session_id as string;
    await covered('GET', '/v1/sessions', { token }, 200);
    const all = await covered('GET', `/v1/sessions?all=1&user=${created.body.user_id as string}&state=live&app=firefox&limit=1`, { token: admin.token }, 200);
    expect(all.body.sessions.map((s: { session_id: string }) => s.session_id)).toEqual([id]);
    await covered('GET', '/v1/sessions?state=sleeping', { token }, 400);
    await covered('GET', `/v1/sessions?user=${admin.id}`, { token }, 400);
    const overview = await covered('GET', '/v1/admin/overview', { token: admin.token }, 200);
    expect(overview.body.sessions.ready + overview.body.sessions.active).toBeGreaterThanOrEqual(1);
    expect(overview.body.starts.cold.count).toBeGreaterThanOrEqual(1);
    expect(overview.body.dependencies.database).toEqual({ status: 'ok' });
    expect(overview.body.workers.length).toBeGreaterThanOrEqual(1);
    await covered('GET', '/v1/admin/overview', { token }, 403);
    const apps = await covered('GET', '/v1/apps', { token }, 200);
    expect(apps.body.apps).toEqual([
      expect.objectContaining({ name: 'firefox', title: 'Firefox', profiles: ['ephemeral', 'persist'], opens_urls: true }),
      expect.objectContaining({ name: 'thunderbird', title: 'Thunderbird', profiles: ['ephemeral', 'persist'], opens_urls: false }),
    ]);
    await covered('GET', `/v1/sessions/${id}`, { token }, 200);
    await covered('POST', `/v1/sessions/${id}/connect`, { token }, 200);
    await covered('POST', `/v1/sessions/${id}/stop`, { token });
    await covered('POST', `/v1/sessions/${id}/connect`, { token }, 409);
    await covered('GET', '/v1/sessions/not-a-uuid', { token }, 400);

    // Administration.
    const users = await covered('GET', '/v1/users', { token: admin.token }, 200);
    const userId = users.body.users.find((u: { username: string }) => u.username === username).id as string;
    await covered('GET', `/v1/users/${userId}`, { token: admin.token }, 200);
    const patched = await covered('PATCH', `/v1/users/${userId}`, { token: admin.token, body: { quota: { max_sessions: 3 }, reset_totp: true } }, 200);
    expect(patched.body.user.quota_overrides).toEqual({ max_sessions: 3 });
    await covered('GET', '/v1/users', { token }, 403);
    // A persistent profile's record whose node never made its volume: listed, and deleted (the node finds nothing to delete).
    const profileDb = await openDatabase(t.config.db);
    try {
      await new ProfileRows(profileDb).settleNode(userId, 'firefox', workerConfig.node.id);
    } finally {
      await profileDb.close();
    }
    const profiles = await covered('GET', `/v1/users/${userId}/profiles`, { token: admin.token }, 200);
    expect(profiles.body.profiles).toEqual([expect.objectContaining({ app: 'firefox', node: workerConfig.node.id, used_mb: 0 })]);
    await covered('DELETE', `/v1/users/${userId}/profiles/firefox`, { token: admin.token }, 204);
    await covered('DELETE', `/v1/users/${userId}/profiles/firefox`, { token: admin.token }, 404);
    await covered('GET', '/v1/roles/user/egress', { token: admin.token }, 200);
    await covered('PUT', '/v1/roles/user/egress', { token: admin.token, body: { destinations: [] } }, 200);
    // Session nodes: the stack's worker is one; a second is entered as its own worker would.
    const spare = `spare-${Date.now().toString(36)}`;
    const db = await openDatabase(t.config.db);
    try {
      await new NodeRegistry(db).register({ id: spare, labels: { kind: 'spare' }, capacity: { memoryMb: 2048, cpus: 2, maxSessions: 2 } });
    } finally {
      await db.close();
    }
    const nodes = await covered('GET', '/v1/nodes', { token: admin.token }, 200);
    expect(nodes.body.nodes).toContainEqual(expect.objectContaining({ id: 'local', state: 'active' }));
    expect(nodes.body.nodes).toContainEqual(expect.objectContaining({ id: spare, state: 'active', labels: { kind: 'spare' }, capacity: { memory_mb: 2048, cpus: 2, sessions: 2 } }));
    expect((await covered('POST', `/v1/nodes/${spare}/drain`, { token: admin.token }, 200)).body.state).toBe('draining');
    const twice = await covered('POST', `/v1/nodes/${spare}/drain`, { token: admin.token }, 409);
    expect(twice.body.error).toMatchObject({ code: 'invalid_node_state', message: expect.stringContaining('draining') });
    expect((await covered('POST', `/v1/nodes/${spare}/approve`, { token: admin.token }, 200)).body.state).toBe('active');
    expect((await covered('POST', `/v1/nodes/${spare}/revoke`, { token: admin.token }, 200)).body.state).toBe('revoked');
    await covered('POST', '/v1/nodes/Not_A_Name/revoke', { token: admin.token }, 400);
    // An edge node's enrolment, its wait, its approval and its certificate.
    const edge = `edge-${Date.now().toString(36)}`;
    const edgeKey = await createNodeKey(edge);
    const enrolled = await covered('POST', '/v1/node-agent/enroll', { body: { csr: edgeKey.csrPem, labels: { site: 'home' }, capacity: { memory_mb: 1024, cpus: 1, sessions: 1 } } }, 202);
    expect(enrolled.body).toEqual({ id: edge, state: 'pending', fingerprint: edgeKey.fingerprint });
    const nodeToken = async () => ({ authorization: `Bearer ${await signNodeToken(edge, edgeKey.keyPem)}` });
    expect((await covered('POST', '/v1/node-agent/certificate', { headers: await nodeToken() }, 202)).body).toEqual({ id: edge, state: 'pending' });
    await covered('POST', `/v1/nodes/${edge}/approve`, { token: admin.token }, 200);
    const certified = await covered('POST', '/v1/node-agent/certificate', { headers: await nodeToken() }, 200);
    expect(certified.body.certificate).toContain('BEGIN CERTIFICATE');
    await covered('POST', '/v1/node-agent/certificate', {}, 401);
    // Its sign of life: the registry's heartbeat moves, the answer is its state; after a revocation, 403.
    const before = nodes.body.nodes.find((n: { id: string }) => n.id === edge)?.last_heartbeat_at ?? null;
    expect((await covered('POST', '/v1/node-agent/heartbeat', { headers: await nodeToken() }, 200)).body).toEqual({ id: edge, state: 'active' });
    const heard = (await t.call('GET', '/v1/nodes', { token: admin.token })).body.nodes.find((n: { id: string }) => n.id === edge);
    expect(heard.last_heartbeat_at).not.toBeNull();
    expect(heard.last_heartbeat_at).not.toBe(before);
    await covered('POST', '/v1/node-agent/heartbeat', {}, 401);
    // `reconciled` matters only to a lost node; a bad body is a 400 that names the field.
    expect((await covered('POST', '/v1/node-agent/heartbeat', { headers: await nodeToken(), body: { reconciled: true } }, 200)).body.state).toBe('active');
    const bad = await covered('POST', '/v1/node-agent/heartbeat', { headers: await nodeToken(), body: { reconciled: 'yes' } }, 400);
    expect(JSON.stringify(bad.body)).toContain('reconciled');
    await covered('POST', `/v1/nodes/nobody-${spare}/approve`, { token: admin.token }, 404);
    await covered('GET', '/v1/nodes', { token }, 403);
    const nodeAudit = await covered('GET', '/v1/audit?action=node.revoked&limit=1', { token: admin.token }, 200);
    expect(nodeAudit.body.events[0]).toMatchObject({ action: 'node.revoked', target_type: 'node', target_id: spare, actor_id: admin.id });
    await covered('POST', `/v1/nodes/${edge}/revoke`, { token: admin.token }, 200);
    expect((await covered('POST', '/v1/node-agent/heartbeat', { headers: await nodeToken() }, 403)).body.error.code).toBe('node_revoked');
    const audit = await covered('GET', `/v1/audit?user=${userId}&limit=2`, { token: admin.token }, 200);
    expect(audit.body.next_cursor).not.toBeNull();
    await covered('GET', `/v1/audit?cursor=${audit.body.next_cursor as string}&limit=2`, { token: admin.token }, 200);

    // The own password, then logging out of the new login.
    await covered('POST', '/v1/me/password', { token, body: { current_password: 'a long enough password', new_password: 'another long password' } }, 204);
    const again = await t.login(username, 'another long password').catch(() => null);
    // TOTP was reset by the admin above, so the new password alone logs in.
    expect(again).not.toBeNull();
    await covered('POST', '/v1/logout', { token: again! }, 204);
    await covered('GET', '/v1/me', { token: again! }, 401);
    await covered('POST', '/v1/nowhere', { token: admin.token }, 404);
  }, 120_000);

  it('has covered every documented operation with a success', () => {
    const internal = OPERATIONS.filter((op) => op.access === 'internal').map((op) => `${op.method.toUpperCase()} ${op.path}`);
    const all = OPERATIONS.map((op) => `${op.method.toUpperCase()} ${op.path}`).filter((o) => !internal.includes(o));
    expect(all.filter((o) => !exercised.has(o))).toEqual([]);
  });
});

describe('/docs/', () => {
  let chromium: TestBrowser;
  beforeAll(async () => {
    chromium = await launchChromium({ trustCaFile: inject('stack').caFile });
  }, 60_000);
  afterAll(async () => chromium?.close());

  it('renders the API in Chromium from the stack alone, under its content security policy', async () => {
    const context = await chromium.browser.newContext();
    const page = await context.newPage();
    const outside: string[] = [];
    const refused: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(t.origin) && !req.url().startsWith('data:')) outside.push(req.url());
    });
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused to/i.test(msg.text())) refused.push(msg.text());
    });
    const response = await page.goto(`${t.origin}/docs/`);
    expect(response?.status()).toBe(200);
    await page.getByText('HackStream API', { exact: false }).first().waitFor({ timeout: 20_000 });
    await page.getByText('/v1/sessions/{id}/connect').first().waitFor();
    expect(await page.locator('.opblock').count()).toBeGreaterThanOrEqual(OPERATIONS.length - 1);
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-results', 'docs', 'docs.png') });
    expect(outside).toEqual([]);
    expect(refused).toEqual([]);
    await context.close();
  }, 60_000);
});

/** The API's own plain-HTTP address (loopback), for what the ingress does not route. */
async function direct(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}
