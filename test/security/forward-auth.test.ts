/**
 * The ForwardAuth check through the real ingress: paths that could be read two ways never reach
 * a session (and never consume its token), headers a client forges do not change the decision,
 * and refusals reach the audit log in bounded number.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REFUSAL_KEY_PREFIX } from '../../api/connect/refusal-audit.js';
import { RESUME_COOKIE, sessionWebHost } from '../../core/ingress-names.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { keysLike } from '../support/redis-server.js';

const stack = inject('stack');
const ca = readFileSync(stack.caFile, 'utf8');

/**
 * A request to the session's own host whose path is sent exactly as written (https.request(url)
 * would normalise it), to the ingress's address with the session's name as SNI and Host.
 */
function rawGet(rawPath: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const host = sessionWebHost(session.session_id, t.config.ingress.domain);
  return new Promise((resolve, reject) => {
    const opts = { host: '127.0.0.1', servername: host, port: stack.ingressPort, path: rawPath, method: 'GET', headers: { host: `${host}:${stack.ingressPort}`, ...headers }, ca, agent: false };
    const req = https.request(opts, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const hasResumeCookie = (h: Record<string, string | string[] | undefined>) => ([] as string[]).concat(h['set-cookie'] ?? []).some((c) => c.startsWith(`${RESUME_COOKIE}=`));

let t: ApiUnderTest;
let user: { token: string };
let admin: { token: string };
let session: any;
let redis: Redis;

beforeAll(async () => {
  t = await startApiUnderTest();
  redis = new Redis(stack.env.HACKSTREAM_REDIS_URL!);
  user = await t.newUser();
  admin = await t.newUser('admin');
  const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  session = created.body;
});
afterAll(async () => {
  if (session) await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: user.token });
  redis?.disconnect();
  await t?.close();
});

/** A fresh one-time token for the session. */
async function freshToken(): Promise<string> {
  const res = await t.call('POST', `/v1/sessions/${session.session_id}/connect`, { token: user.token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return new URL(res.body.connect.browser.url).searchParams.get('token')!;
}

describe('paths that could be read two ways', () => {
  it.each([
    ['/./', '/./'],
    ['/../', '/js/../'],
    ['/../ above the root', '/js/../../'],
    ['trailing /..', '/js/..'],
    ['%2e', '/%2e/'],
    ['%2E%2E', '/js/%2E%2E/'],
    ['%2f', '/js%2f'],
    ['%2F', '/js%2FClient.js'],
    ['%5c', '/js%5c'],
    ['%5C', '/js%5CClient.js'],
    ['a backslash', '/js\\Client.js'],
  ])('are refused with %s, and the token they carry still works after', async (_name, path) => {
    const token = await freshToken();
    const res = await rawGet(`${path}?token=${token}`);
    expect(res.status, `${path} → ${res.status}`).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(hasResumeCookie(res.headers)).toBe(false);
    // Not consumed: the refusal came before the token was looked at.
    expect((await rawGet(`/?token=${token}`)).status).toBe(200);
  });
});

describe('forwarding headers sent by the client', () => {
  it("do not change the decision: Traefik's own view of the URI counts", async () => {
    const token = await freshToken();
    const base = '/';
    // A token only in a forged X-Forwarded-Uri does not let the request in, nor consume it.
    const forged = await rawGet(base, { 'x-forwarded-uri': `${base}?token=${token}`, 'x-forwarded-for': '203.0.113.7' });
    expect(forged.status).toBe(401);
    expect(hasResumeCookie(forged.headers)).toBe(false);
    // A forged refusable URI does not block the real one either.
    const real = await rawGet(`${base}?token=${token}`, { 'x-forwarded-uri': `${base}../../etc/passwd`, 'x-forwarded-prefix': '/x' });
    expect(real.status).toBe(200);
    expect(hasResumeCookie(real.headers)).toBe(true);
  });

  it("do not change the session: a forged X-Forwarded-Host naming another session's host is not believed", async () => {
    const other = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(other.status, JSON.stringify(other.body)).toBe(201);
    try {
      // The other session's token, sent to this session's host claiming to be for the other's:
      // were the header believed, the check would consume it and let the request in.
      const foreignToken = new URL(other.body.connect.browser.url).searchParams.get('token')!;
      const forged = await rawGet(`/?token=${foreignToken}`, { 'x-forwarded-host': sessionWebHost(other.body.session_id, t.config.ingress.domain) });
      expect(forged.status).toBe(401);
      expect(hasResumeCookie(forged.headers)).toBe(false);
    } finally {
      await t.call('POST', `/v1/sessions/${other.body.session_id}/stop`, { token: user.token });
    }
  });
});

describe('refusals in the audit log', () => {
  const refusals = async (since: string) => {
    const res = await t.call('GET', `/v1/audit?action=connect.refused&since=${encodeURIComponent(since)}&limit=500`, { token: admin.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.events as any[];
  };
  const clearWindows = async () => {
    const keys = await keysLike(redis, `${REFUSAL_KEY_PREFIX}:*`);
    if (keys.length) await redis.del(...keys);
  };

  it('write one row per source address and window, carrying the count, from the address Traefik saw', async () => {
    await clearWindows();
    const since = new Date().toISOString();
    const flood = 25;
    const base = '/';
    for (let i = 0; i < flood; i++) {
      // Each claims another address: were X-Forwarded-For believed, each would get its own row.
      const res = await rawGet(i % 2 ? base : `${base}?token=${'A'.repeat(43)}`, { 'x-forwarded-for': `203.0.113.${i + 1}` });
      expect(res.status).toBe(401);
    }
    const first = await refusals(since);
    expect(first).toHaveLength(1);
    expect(first[0].source_ip).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
    expect(first[0].details).toEqual(expect.objectContaining({ refusals: 1, status: 401, reason: expect.any(String) }));
    expect(JSON.stringify(first)).not.toContain('203.0.113.');

    // The window ends (its gate expires): the next refusal writes the next row, with the count.
    await redis.del(`${REFUSAL_KEY_PREFIX}:gate:${first[0].source_ip}`);
    expect((await rawGet(base)).status).toBe(401);
    const rows = await refusals(since);
    expect(rows).toHaveLength(2);
    expect(rows[0].details.refusals).toBe(flood);
  });
});
