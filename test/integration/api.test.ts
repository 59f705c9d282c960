/**
 * The API against the real stack: authentication, ownership, and every documented bad-input case
 * answering 4xx with `{ error: { code, message } }`, never a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';

let t: ApiUnderTest;

beforeAll(async () => {
  t = await startApiUnderTest();
});
afterAll(async () => {
  await t?.close();
});

function expectError(res: { status: number; body: any }, status: number, code: string, message?: RegExp) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  if (message) expect(res.body.error.message).toMatch(message);
}

describe('health', () => {
  it('answers /health and reports every dependency ready on /ready', async () => {
    expect((await t.call('GET', '/health')).body).toEqual({ status: 'ok' });
    const ready = await t.call('GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      status: 'ready',
      checks: { database: { status: 'ok' }, redis: { status: 'ok' }, temporal: { status: 'ok' }, docker: { status: 'ok' } },
    });
  });

  it('answers unknown API routes with a JSON 404', async () => {
    const { token } = await t.newUser();
    expectError(await t.call('GET', '/v1/nope', { token }), 404, 'not_found');
  });
});

describe('login', () => {
  it('issues a bearer token for good credentials, and /v1/me identifies the caller', async () => {
    const user = await t.newUser();
    const login = await t.call('POST', '/v1/login', { body: { username: user.username, password: user.password } });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 600,
      refresh_token: expect.any(String),
      refresh_expires_in: 30 * 86_400,
    });
    expect(login.headers['cache-control']).toBe('no-store');
    const me = await t.call('GET', '/v1/me', { token: login.body.access_token });
    expect(me.body).toEqual({ id: user.id, username: user.username, role: 'user', totp_enabled: false });
  });

  it('answers a wrong password and an unknown user with the same 401', async () => {
    const user = await t.newUser();
    const wrong = await t.call('POST', '/v1/login', { body: { username: user.username, password: 'not-the-password' } });
    const unknown = await t.call('POST', '/v1/login', { body: { username: 'nobody-here', password: 'whatever' } });
    expectError(wrong, 401, 'unauthorized');
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
  });

  it.each([
    ['missing password', { username: 'a' }, 400, 'invalid_request'],
    ['wrong types', { username: 1, password: true }, 400, 'invalid_request'],
    ['extra fields', { username: 'a', password: 'b', admin: true }, 400, 'invalid_request'],
  ])('rejects %s', async (_name, body, status, code) => {
    expectError(await t.call('POST', '/v1/login', { body }), status, code);
  });

  it('rejects malformed JSON, non-JSON bodies and oversized bodies', async () => {
    expectError(await t.call('POST', '/v1/login', { rawBody: '{"username":', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json');
    expectError(await t.call('POST', '/v1/login', { rawBody: 'username=a&password=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type');
    const huge = JSON.stringify({ username: 'a', password: 'x'.repeat(100_000) });
    expectError(await t.call('POST', '/v1/login', { rawBody: huge, headers: { 'content-type': 'application/json' } }), 413, 'payload_too_large');
  });
});

describe('authentication on /v1', () => {
  it('refuses requests without a token or with a bad one', async () => {
    expectError(await t.call('GET', '/v1/sessions'), 401, 'unauthorized', /missing bearer token/);
    expectError(await t.call('GET', '/v1/sessions', { token: 'garbage.token.here' }), 401, 'unauthorized');
  });
});

describe('sessions: bad input', () => {
  let token: string;
  beforeAll(async () => {
    token = (await t.newUser()).token;
  });

  it.each([
    ['an unknown app', { app: 'photoshop' }, /app: unknown app/],
    ['a missing app', { url: 'https://example.com/' }, /app: is required/],
    ['a malformed URL', { app: 'firefox', url: 'not a url' }, /url: must be an absolute http\(s\) URL/],
    ['a javascript: URL', { app: 'firefox', url: 'javascript:alert(document.cookie)' }, /scheme javascript: is not allowed/],
    ['a file: URL', { app: 'firefox', url: 'file:///etc/passwd' }, /scheme file: is not allowed/],
    ['a wrong type', { app: 'firefox', url: 42 }, /url/],
    ['an unknown quality', { app: 'firefox', quality: 'ultra' }, /quality/],
    ['an unknown profile', { app: 'firefox', profile: 'roaming' }, /profile/],
  ])('refuses %s with 400', async (_name, body, message) => {
    expectError(await t.call('POST', '/v1/sessions', { token, body }), 400, 'invalid_request', message);
  });

  it('refuses an absent or oversized body', async () => {
    expectError(await t.call('POST', '/v1/sessions', { token }), 400, 'invalid_request', /missing/);
    const huge = JSON.stringify({ app: 'firefox', url: `https://example.com/${'a'.repeat(20_000)}` });
    expectError(await t.call('POST', '/v1/sessions', { token, rawBody: huge, headers: { 'content-type': 'application/json' } }), 413, 'payload_too_large');
  });

  it('refuses a malformed session id with 400 and an unknown one with 404', async () => {
    expectError(await t.call('GET', '/v1/sessions/not-a-session', { token }), 400, 'invalid_request', /session id/);
    expectError(await t.call('GET', '/v1/sessions/7f1d0a4e-3c55-4b2e-9c1e-2a9b8c7d6e5f', { token }), 404, 'not_found');
    expectError(await t.call('POST', '/v1/sessions/7f1d0a4e-3c55-4b2e-9c1e-2a9b8c7d6e5f/stop', { token }), 404, 'not_found');
  });

  it('refuses a bad list query', async () => {
    expectError(await t.call('GET', '/v1/sessions?limit=0', { token }), 400, 'invalid_request', /limit/);
  });
});

describe('sessions: ownership', () => {
  it("keeps a user out of another user's session, while its owner and admins see it", async () => {
    const owner = await t.newUser();
    const other = await t.newUser();
    const admin = await t.newUser('admin');
    const created = await t.call('POST', '/v1/sessions', { token: owner.token, body: { app: 'firefox' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.session_id;
    try {
      expectError(await t.call('GET', `/v1/sessions/${id}`, { token: other.token }), 404, 'not_found');
      expectError(await t.call('POST', `/v1/sessions/${id}/stop`, { token: other.token }), 404, 'not_found');
      expect((await t.call('GET', '/v1/sessions', { token: other.token })).body.sessions).toEqual([]);
      expectError(await t.call('GET', '/v1/sessions?all=1', { token: other.token }), 403, 'forbidden');

      expect((await t.call('GET', `/v1/sessions/${id}`, { token: owner.token })).body.state).toBe('ready');
      const mine = (await t.call('GET', '/v1/sessions', { token: owner.token })).body.sessions;
      expect(mine.map((s: any) => s.session_id)).toEqual([id]);
      const all = (await t.call('GET', '/v1/sessions?all=1', { token: admin.token })).body.sessions;
      expect(all.map((s: any) => s.session_id)).toContain(id);
      expect((await t.call('GET', `/v1/sessions/${id}`, { token: admin.token })).status).toBe(200);
    } finally {
      const stopped = await t.call('POST', `/v1/sessions/${id}/stop`, { token: owner.token });
      expect(stopped.body.state).toBe('stopped');
    }
  });
});
