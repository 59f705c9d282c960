/**
 * Security headers as a browser receives them through the ingress: every API response (errors
 * included) forbids framing, sniffing, referrers and plain HTTP and loads nothing; a session's
 * HTML5 client pages, served by xpra, carry what they can without breaking the client.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { httpsRequest } from '../support/https-client.js';

const stack = inject('stack');
type Headers = Record<string, string | string[] | undefined>;

let t: ApiUnderTest;
beforeAll(async () => {
  t = await startApiUnderTest();
});
afterAll(async () => {
  await t?.close();
});

/** Each directive of a Content-Security-Policy header, by name. */
function directives(csp: unknown): Record<string, string> {
  expect(typeof csp, 'Content-Security-Policy is missing').toBe('string');
  return Object.fromEntries(
    String(csp)
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name!.toLowerCase(), values.join(' ')]),
  );
}

function expectTransportAndReferrer(headers: Headers) {
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('no-referrer');
  const hsts = /max-age=(\d+)/.exec(String(headers['strict-transport-security']));
  expect(Number(hsts?.[1]), `HSTS: ${String(headers['strict-transport-security'])}`).toBeGreaterThanOrEqual(180 * 86_400);
}

function expectApiHeaders(headers: Headers) {
  expectTransportAndReferrer(headers);
  const csp = directives(headers['content-security-policy']);
  expect(csp['default-src']).toBe("'none'");
  expect(csp['frame-ancestors']).toBe("'none'");
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['x-powered-by']).toBeUndefined();
}

describe('API responses', () => {
  it.each([
    ['a public success', 'GET', '/health', undefined, 200],
    ['the CA certificate', 'GET', '/ca.pem', undefined, 200],
    ['a 401 without a token', 'GET', '/v1/me', undefined, 401],
    ['a 400 for malformed JSON', 'POST', '/v1/login', '{"username":', 400],
  ])('carry the headers on %s', async (_name, method, path, rawBody, status) => {
    const res = await t.call(method, path, rawBody ? { rawBody, headers: { 'content-type': 'application/json' } } : {});
    expect(res.status).toBe(status);
    expectApiHeaders(res.headers);
  });

  it('carry them on an authenticated answer and an authenticated error', async () => {
    const { token } = await t.newUser();
    const me = await t.call('GET', '/v1/me', { token });
    expect(me.status).toBe(200);
    expectApiHeaders(me.headers);
    const missing = await t.call('GET', '/v1/nope', { token });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expectApiHeaders(missing.headers);
  });
});

describe("the API's pages (/docs/, /ui/)", () => {
  it.each(['/docs/', '/docs/swagger-ui-bundle.js', '/ui/'])('%s: only their own scripts and styles, nothing inline, never framed', async (page) => {
    const res = await httpsRequest(`${t.origin}${page}`, { caFile: stack.caFile });
    // /ui/ answers 404 where the dashboard is not built: the policy is the same.
    expect([200, 404]).toContain(res.status);
    expectTransportAndReferrer(res.headers);
    const csp = directives(res.headers['content-security-policy']);
    expect(csp['default-src']).toBe("'none'");
    expect(csp['script-src']).toBe("'self'");
    expect(csp['style-src']).toBe("'self'");
    expect(csp['connect-src']).toBe("'self'");
    expect(csp['frame-ancestors']).toBe("'none'");
    expect(String(res.headers['content-security-policy'])).not.toMatch(/unsafe|\*/);
    expect(res.headers['x-frame-options']).toBe('DENY');
  });
});

describe("a session's HTML5 client through the ingress", () => {
  let user: { token: string };
  let session: any;
  beforeAll(async () => {
    user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    session = created.body;
  });
  afterAll(async () => {
    if (session) await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: user.token });
  });

  it('serves the page with nosniff, no referrer, HSTS and same-origin framing only', async () => {
    const page = await httpsRequest(session.connect.browser.url, { caFile: stack.caFile });
    expect(page.status).toBe(200);
    expect(page.text).toContain('xpra');
    expectTransportAndReferrer(page.headers);
    expect(['SAMEORIGIN', 'DENY']).toContain(String(page.headers['x-frame-options']).toUpperCase());
  });

  it('puts the same headers on a refusal by the ForwardAuth check', async () => {
    const refused = await httpsRequest(`${t.sessionOrigin(session.session_id)}/`, { caFile: stack.caFile });
    expect(refused.status).toBe(401);
    expectTransportAndReferrer(refused.headers);
    expect(['SAMEORIGIN', 'DENY']).toContain(String(refused.headers['x-frame-options']).toUpperCase());
  });
});
