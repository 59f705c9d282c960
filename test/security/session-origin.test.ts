/**
 * Issue 11, point 8: an origin per session. Each session's HTML5 client runs on a host of its own
 * (`<id>.web.sessions.<domain>`), never on the API's origin, so what runs in one session's page
 * (the client, or anything that subverts it) can neither read the API nor touch another session.
 * Tried from inside session A's page in Chromium, with session B open in the same browser (so
 * the browser holds B's resume cookie). Each check would fail on the old layout, where every
 * session lived under `/sessions/<id>/` on the API's origin: there the API and B are same-origin.
 * No DNS: Chromium resolves `*.localhost` (the tests' domain) to loopback by itself.
 */
import { Redis } from 'ioredis';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REFUSAL_KEY_PREFIX } from '../../api/connect/refusal-audit.js';
import { RESUME_COOKIE } from '../../core/ingress-names.js';
import { keysLike } from '../support/redis-server.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { launchChromium, openSessionWindow, type TestBrowser } from '../support/browser.js';

// What the page's functions use of the DOM (this project compiles without its types).
declare const document: { readyState: string; cookie: string };
type RequestCredentials = 'include' | 'omit' | 'same-origin';

const stack = inject('stack');
let t: ApiUnderTest;
let user: { token: string };
let admin: { token: string };
let redis: Redis;
let chromium: TestBrowser;
let context: BrowserContext;
const sessions: Array<{ id: string; origin: string; tab: Page }> = [];

/** Starts a session and opens its HTML5 client in a tab of the shared browser context. */
async function openSession(): Promise<(typeof sessions)[number]> {
  const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id = String(created.body.session_id);
  const s = { id, origin: t.sessionOrigin(id), tab: await context.newPage() };
  sessions.push(s);
  const response = await openSessionWindow(s.tab, String(created.body.connect.browser.url), {
    check: () => document.readyState === 'complete',
    arg: undefined,
  });
  expect(response?.status()).toBe(200);
  expect(new URL(s.tab.url()).origin).toBe(s.origin);
  return s;
}

beforeAll(async () => {
  t = await startApiUnderTest();
  user = await t.newUser();
  admin = await t.newUser('admin');
  redis = new Redis(stack.env.HACKSTREAM_REDIS_URL!);
  chromium = await launchChromium({ trustCaFile: stack.caFile });
  context = await chromium.browser.newContext();
  // B first, so that the browser holds B's cookie while A's page runs.
  await openSession();
  await openSession();
}, 180_000);
afterAll(async () => {
  await chromium?.close();
  for (const s of sessions) await t.call('POST', `/v1/sessions/${s.id}/stop`, { token: user.token });
  await t?.close();
  redis?.disconnect();
});

const sessionB = () => sessions[0]!;
const sessionA = () => sessions[1]!;

/** What a fetch from inside a page gets: its status and body, or `blocked` when the browser hides the answer. */
type Fetched = { status: number; text: string; wwwAuthenticate: string | null };
function fetchFrom(tab: Page, url: string, credentials: RequestCredentials = 'include'): Promise<Fetched | 'blocked'> {
  return tab.evaluate(
    async ([u, c]) => {
      try {
        const res = await fetch(u, { credentials: c, cache: 'no-store' });
        return { status: res.status, text: await res.text(), wwwAuthenticate: res.headers.get('www-authenticate') };
      } catch {
        return 'blocked' as const;
      }
    },
    [url, credentials] as const,
  );
}

/** Whether a websocket from inside a page to `url` opens (the HTML5 client's subprotocol). */
function websocketFrom(tab: Page, url: string): Promise<'open' | 'refused'> {
  return tab.evaluate(
    (u) =>
      new Promise<'open' | 'refused'>((resolve) => {
        const ws = new WebSocket(u, 'binary');
        const timer = setTimeout(() => (ws.close(), resolve('refused')), 10_000);
        ws.onopen = () => (clearTimeout(timer), ws.close(), resolve('open'));
        ws.onerror = () => (clearTimeout(timer), resolve('refused'));
      }),
    url,
  );
}

describe("from inside a session's page, the API", () => {
  it('is another origin, whose answers the page cannot read, even with credentials', async () => {
    expect(sessionA().origin).not.toBe(t.origin);
    for (const path of ['/v1/me', '/v1/sessions', '/health', '/ca.pem']) {
      expect(await fetchFrom(sessionA().tab, `${t.origin}${path}`), path).toBe('blocked');
    }
    // Without credentials too; yet the API is up and answers outside the page: the block is the browser's.
    expect(await fetchFrom(sessionA().tab, `${t.origin}/health`, 'omit')).toBe('blocked');
    expect((await t.call('GET', '/health')).status).toBe(200);
  });

  it("is not behind the session's own origin: its paths there reach the session, not the API", async () => {
    for (const path of ['/health', '/ca.pem', '/v1/me']) {
      const got = await fetchFrom(sessionA().tab, `${sessionA().origin}${path}`, 'same-origin');
      expect(got, path).not.toBe('blocked');
      const { status, text, wwwAuthenticate } = got as Fetched;
      // What the API would answer: its health, the CA, its 401 asking for a bearer token.
      expect(text, `${path} → ${status}`).not.toMatch(/"status":"ok"|BEGIN CERTIFICATE/);
      expect(wwwAuthenticate ?? '', path).not.toMatch(/bearer/i);
    }
  });
});

describe("from inside a session's page, another session", () => {
  it("is another origin, whose pages the page cannot read, and whose check refuses the request though the browser holds B's cookie", async () => {
    const { tab } = sessionA();
    expect(await fetchFrom(tab, `${sessionB().origin}/`)).toBe('blocked');
    expect(await fetchFrom(tab, `${sessionB().origin}/js/Client.js`)).toBe('blocked');
    // What B answered, which a CORS-blocked fetch hides from the page: a no-cors fetch sends the
    // same request with no Origin, and sessions' hosts share one site, so SameSite lets the
    // browser attach B's cookie. B's ForwardAuth refuses it all the same (fetch metadata says
    // another page sent it), and says so in the audit log; B's xpra never sees it.
    const since = new Date().toISOString();
    const windows = await keysLike(redis, `${REFUSAL_KEY_PREFIX}:*`);
    if (windows.length) await redis.del(...windows); // a fresh window: this refusal gets its own row
    const seen = await tab.evaluate(
      (u) => fetch(u, { mode: 'no-cors', credentials: 'include', cache: 'no-store' }).then((r) => `${r.type} ${r.status}`, () => 'failed'),
      `${sessionB().origin}/js/Client.js`,
    );
    // The page learns nothing either way: an opaque answer, or none (a JSON refusal is blocked
    // from no-cors reads).
    expect(['opaque 0', 'failed']).toContain(seen);
    const res = await t.call('GET', `/v1/audit?action=connect.refused&since=${encodeURIComponent(since)}`, { token: admin.token });
    expect(res.body.events, JSON.stringify(res.body)).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ status: 403, reason: "a request from another origin than the session's" }) }),
    ]);
  });

  it("cannot be driven through a websocket (no CORS there): B's check refuses A's origin, while A's own websocket opens", async () => {
    const wss = (origin: string) => `${origin.replace(/^https:/, 'wss:')}/`;
    expect(await websocketFrom(sessionA().tab, wss(sessionB().origin))).toBe('refused');
    // The same from A to A: the resume cookie and the page's own Origin let it in.
    expect(await websocketFrom(sessionA().tab, wss(sessionA().origin))).toBe('open');
  });
});

describe("a session's resume cookie", () => {
  it("is HttpOnly: the page's script does not see it", async () => {
    expect(await sessionA().tab.evaluate(() => document.cookie)).not.toContain(RESUME_COOKIE);
    expect(await sessionA().tab.evaluate(() => document.cookie)).toBe('');
  });

  it("is host-only: the browser holds one per session's host, and sends A only A's", async () => {
    const [a, b] = [await context.cookies(sessionA().origin), await context.cookies(sessionB().origin)];
    const resume = (cookies: typeof a) => cookies.filter((c) => c.name === RESUME_COOKIE);
    expect(resume(a)).toHaveLength(1);
    expect(resume(b)).toHaveLength(1);
    expect(resume(a)[0]).toMatchObject({ domain: new URL(sessionA().origin).hostname, path: '/', httpOnly: true, secure: true, sameSite: 'Strict' });
    expect(resume(a)[0]!.value).not.toBe(resume(b)[0]!.value);
    // What A's own request carries: A's cookie and nothing of B's.
    // One request, then no listener left behind (one still reading headers when the browser
    // closes would reject unhandled).
    const sent = sessionA().tab.waitForRequest((r) => r.url().startsWith(`${sessionA().origin}/js/Client.js`), { timeout: 15_000 });
    expect(await fetchFrom(sessionA().tab, `${sessionA().origin}/js/Client.js`, 'same-origin')).toMatchObject({ status: 200 });
    const cookieHeader = (await (await sent).allHeaders())['cookie'] ?? '';
    expect(cookieHeader).toContain(`${RESUME_COOKIE}=${resume(a)[0]!.value}`);
    expect(cookieHeader).not.toContain(resume(b)[0]!.value);
  });
});
