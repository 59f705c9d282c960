/**
 * What a client gets through the ingress while the API process is down (crashed, being restarted
 * by the watchdog): the API's JSON error model with Retry-After, answered by Traefik's local plugin
 * (ingress/plugins-local), never Traefik's plain-text 502. The API's own answers pass through
 * untouched, its JSON 503s included (test/integration/dependency-outage.test.ts checks those
 * through the same ingress: they keep their code, dependency_unavailable).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';

let t: ApiUnderTest;
let closed = false;

beforeAll(async () => {
  t = await startApiUnderTest();
});

afterAll(async () => {
  if (!closed) await t?.close();
});

const expectApiUnavailable = (res: { status: number; body: any; headers: Record<string, unknown> }) => {
  expect(res.status, JSON.stringify(res.body)).toBe(502);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(res.headers['retry-after']).toBe('5');
  expect(res.body).toEqual({ error: { code: 'api_unavailable', message: expect.stringContaining('not answering') } });
};

describe('the ingress while the API process is down', () => {
  it("passes the API's own answers through as they are", async () => {
    const user = await t.newUser();
    const unknown = await t.call('GET', '/v1/no-such-route', { token: user.token });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    const health = await t.call('GET', '/health');
    expect(health.status).toBe(200);
    const quotas = await t.call('GET', '/v1/quotas', { token: user.token });
    expect(quotas.status).toBe(200);
    expect(quotas.body.usage.sessions).toBe(0);
  });

  it('answers every API path with a JSON 502 api_unavailable and Retry-After, never plain text', async () => {
    const user = await t.newUser();
    await t.close();
    closed = true;
    // Nothing listens on the API's port any more: Traefik's connection is refused.
    expectApiUnavailable(await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } }));
    expectApiUnavailable(await t.call('POST', '/v1/login', { body: { username: user.username, password: user.password } }));
    expectApiUnavailable(await t.call('GET', '/ready'));
    expectApiUnavailable(await t.call('GET', '/health'));
  });
});
