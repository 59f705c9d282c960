/**
 * The secure data plane against the real stack: nothing reaches a session container except
 * through Traefik with TLS and a token that works once (what else cannot reach a session, and
 * what a session cannot reach: test/security/session-reachability and session-egress).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RESUME_COOKIE } from '../../core/ingress-names.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { execIn, sessionContainers } from '../support/docker.js';
import { httpsRequest } from '../support/https-client.js';
import { scrapedValue } from '../support/prometheus.js';
import { keysLike } from '../support/redis-server.js';
import { attachNative, attachXpra } from '../support/xpra-client.js';

const stack = inject('stack');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'hs-dataplane-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const browserGet = (url: string, cookie?: string) => httpsRequest(url, { caFile: stack.caFile, headers: cookie ? { cookie } : {} });
const resumeCookie = (setCookie: string | string[] | undefined) => {
  const raw = ([] as string[]).concat(setCookie ?? []).find((c) => c.startsWith(`${RESUME_COOKIE}=`));
  return raw?.split(';')[0];
};

async function createSession(t: ApiUnderTest, token: string): Promise<any> {
  const created = await t.call('POST', '/v1/sessions', { token, body: { app: 'firefox' } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body;
}

async function freshConnect(t: ApiUnderTest, token: string, sessionId: string): Promise<any> {
  const res = await t.call('POST', `/v1/sessions/${sessionId}/connect`, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.connect;
}

describe('the browser path', () => {
  let t: ApiUnderTest;
  let owner: { token: string; id: string };
  let session: any;
  beforeAll(async () => {
    t = await startApiUnderTest();
    owner = await t.newUser();
    session = await createSession(t, owner.token);
  });
  afterAll(async () => {
    if (session) await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: owner.token });
    await t?.close();
  });

  it('accepts a connect token once, on the session\'s own origin, and hands out a host-only, HttpOnly, Secure resume cookie', async () => {
    const { url } = session.connect.browser;
    expect(url).toMatch(new RegExp(`^${t.sessionOrigin(session.session_id)}/\\?`));
    const first = await browserGet(url);
    expect(first.status).toBe(200);
    expect(first.text).toContain('xpra');
    const setCookie = ([] as string[]).concat(first.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${RESUME_COOKIE}=`));
    expect(setCookie).toMatch(/; Path=\/;/);
    expect(setCookie).not.toMatch(/Domain=/i);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/Secure/);
    expect(setCookie).toMatch(/SameSite=Strict/);

    const second = await browserGet(url);
    expect(second.status).toBe(401);
    expect(JSON.parse(second.text)).toEqual({ error: { code: 'unauthorized', message: expect.stringMatching(/already used/) } });

    // The cookie lets the client fetch its assets and reconnect, for this session only.
    const cookie = resumeCookie(first.headers['set-cookie'])!;
    expect((await browserGet(`${t.sessionOrigin(session.session_id)}/js/Client.js`, cookie)).status).toBe(200);
    const other = await createSession(t, owner.token);
    try {
      expect((await browserGet(`${t.sessionOrigin(other.session_id)}/`, cookie)).status).toBe(401);
    } finally {
      await t.call('POST', `/v1/sessions/${other.session_id}/stop`, { token: owner.token });
    }
  });

  it('lets exactly one of two concurrent uses of a token through', async () => {
    const { url } = (await freshConnect(t, owner.token, session.session_id)).browser;
    const statuses = (await Promise.all([browserGet(url), browserGet(url)])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 401]);
  });

  it('refuses requests without a token, with a made-up token, or with a token of another session', async () => {
    const base = `${t.sessionOrigin(session.session_id)}/`;
    expect((await browserGet(base)).status).toBe(401);
    expect((await browserGet(`${base}?token=${'A'.repeat(43)}`)).status).toBe(401);
    const other = await createSession(t, owner.token);
    try {
      const foreignToken = new URL(other.connect.browser.url).searchParams.get('token')!;
      expect((await browserGet(`${base}?token=${foreignToken}`)).status).toBe(401);
    } finally {
      await t.call('POST', `/v1/sessions/${other.session_id}/stop`, { token: owner.token });
    }
  });

  it("gives fresh credentials only to the session's owner", async () => {
    const stranger = await t.newUser();
    const res = await t.call('POST', `/v1/sessions/${session.session_id}/connect`, { token: stranger.token });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('connect tokens past their TTL', () => {
  let t: ApiUnderTest;
  beforeAll(async () => {
    t = await startApiUnderTest({ HACKSTREAM_CONNECT_TOKEN_TTL_SECONDS: '1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('are refused on both paths', async () => {
    const user = await t.newUser();
    const session = await createSession(t, user.token);
    try {
      await new Promise((r) => setTimeout(r, 2500));
      expect((await browserGet(session.connect.browser.url)).status).toBe(401);
      const { native } = session.connect;
      const client = attachNative(native, { port: stack.ingressPort, caFile: stack.caFile });
      expect(await client.attached(20_000)).toBe(false);
      await client.stop();
    } finally {
      await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: user.token });
    }
  });
});

describe('the native path', () => {
  let t: ApiUnderTest;
  let user: { token: string; id: string };
  let session: any;
  let caFile: string;
  beforeAll(async () => {
    t = await startApiUnderTest({ HACKSTREAM_ACTIVITY_POLL_SECONDS: '1' });
    user = await t.newUser();
    session = await createSession(t, user.token);
    // What a client does: fetch the CA and pin it by the fingerprint in the descriptor.
    const ca = await browserGet(session.connect.native.ca_url);
    expect(new X509Certificate(ca.text).fingerprint256).toBe(session.connect.native.ca_fingerprint_sha256);
    caFile = path.join(tmp, 'pinned-ca.pem');
    writeFileSync(caFile, ca.text);
  });
  afterAll(async () => {
    if (session) await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: user.token });
    await t?.close();
  });

  it('attaches a real xpra client by SNI through the ingress, verifying the session certificate; the token works once', async () => {
    const { native } = session.connect;
    expect(native).toMatchObject({ host: 'localhost', port: stack.ingressPort, sni: `${session.session_id}.sessions.hackstream.localhost` });
    const opts = { host: '127.0.0.1', port: native.port, sni: native.sni, caFile, username: native.username, password: native.password };
    const workerMetric = (series: string) => scrapedValue(stack.workerMetricsUrl, series);
    const roundTripsBefore = await workerMetric('hackstream_stream_round_trip_seconds_count');
    const sendRatesBefore = await workerMetric('hackstream_stream_send_bytes_per_second_count');
    const client = attachXpra(opts);
    try {
      expect(await client.attached(), client.output()).toBe(true);
      // The session sees the client and the Firefox window is streamed to it.
      const [container] = await sessionContainers(session.session_id);
      let info = '';
      for (let i = 0; i < 40 && !/^client\.window\.\d+\./m.test(info); i++) {
        info = (await execIn(container!.Id, ['xpra', 'info', ':100', '--socket-dir=/tmp/xpra'])).output;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(info).toMatch(/^clients=1$/m);
      expect(info).toMatch(/^client\.connection\.type=ssl$/m);
      expect(info).toMatch(/^client\.window\.\d+\./m);
      expect(info).toMatch(/^windows\.\d+\.class-instance=\('Navigator', 'firefox-esr'\)$/m);
      // The session's watcher reports what the client is streamed to the worker's metrics (every
      // poll, 1 s here): its round trip, and a send rate from the second poll on.
      for (let i = 0; i < 60 && !((await workerMetric('hackstream_stream_send_bytes_per_second_count')) > sendRatesBefore); i++) {
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(await workerMetric('hackstream_stream_round_trip_seconds_count')).toBeGreaterThan(roundTripsBefore);
      expect(await workerMetric('hackstream_stream_send_bytes_per_second_count')).toBeGreaterThan(sendRatesBefore);
    } finally {
      await client.stop();
    }

    const again = attachXpra(opts);
    expect(await again.attached(20_000)).toBe(false);
    await again.stop();
    expect(again.output()).toMatch(/authentication failed|authentication required/i);
  });

  it('refuses a client that trusts another CA, and a connection without a token', async () => {
    const { native } = await freshConnect(t, user.token, session.session_id);
    const evil = path.join(tmp, 'evil');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${evil}-key.pem`, '-out', `${evil}.pem`, '-days', '1', '-subj', '/CN=Not HackStream']);
    const wrongCa = attachXpra({ host: '127.0.0.1', port: native.port, sni: native.sni, caFile: `${evil}.pem`, username: native.username, password: native.password });
    expect(await wrongCa.attached(20_000)).toBe(false);
    await wrongCa.stop();
    expect(wrongCa.output()).toMatch(/SSL handshake failed: +(unable to get local issuer certificate|self-signed certificate in certificate chain)/);

    const noToken = attachXpra({ host: '127.0.0.1', port: native.port, sni: native.sni, caFile });
    expect(await noToken.attached(20_000)).toBe(false);
    await noToken.stop();

    // The token was not spent by those attempts.
    const good = attachXpra({ host: '127.0.0.1', port: native.port, sni: native.sni, caFile, username: native.username, password: native.password });
    try {
      expect(await good.attached(), good.output()).toBe(true);
    } finally {
      await good.stop();
    }
  });

  it('lets exactly one of two concurrent attaches with one token in', async () => {
    const { native } = await freshConnect(t, user.token, session.session_id);
    const opts = { host: '127.0.0.1', port: native.port, sni: native.sni, caFile, username: native.username, password: native.password };
    const clients = [attachXpra(opts), attachXpra(opts)];
    try {
      const results = await Promise.all(clients.map((c) => c.attached(30_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
    }
  });
});

describe('teardown', () => {
  let t: ApiUnderTest;
  beforeAll(async () => {
    t = await startApiUnderTest();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("removes the session's routes, certificate files and tokens at teardown", async () => {
    const user = await t.newUser();
    const session = await createSession(t, user.token);
    const id = session.session_id;
    const routeFile = path.join(stack.dataDir, 'traefik', 'dynamic', `session-${id}.yml`);
    const filesDir = path.join(stack.dataDir, 'sessions', id);
    const redis = new Redis(stack.env['HACKSTREAM_REDIS_URL']!);
    try {
      // Live while the session runs: a route file, the certificate and key, an unused token.
      expect(existsSync(routeFile)).toBe(true);
      expect(readFileSync(path.join(filesDir, 'tls-cert.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
      expect(await keysLike(redis, `hackstream:*:${id}*`)).not.toEqual([]);
      const unused = session.connect;

      const stopped = await t.call('POST', `/v1/sessions/${id}/stop`, { token: user.token });
      expect(stopped.body.state).toBe('stopped');

      expect(existsSync(routeFile)).toBe(false);
      expect(existsSync(filesDir)).toBe(false);
      expect(await keysLike(redis, `hackstream:*${id}*`)).toEqual([]);
      // And the ingress no longer knows the session: no browser route, no TLS route.
      expect((await browserGet(unused.browser.url)).status).toBe(404);
      const presented = await new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: stack.ingressPort, servername: unused.native.sni, rejectUnauthorized: false }, () => {
          resolve(s.getPeerX509Certificate()?.subject ?? '');
          s.destroy();
        });
        s.on('error', reject);
      });
      expect(presented).not.toContain(id);
      expect(await sessionContainers(id)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
