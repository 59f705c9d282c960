/**
 * End to end against the real stack: API → Temporal → worker → Docker → xpra + Firefox, viewed
 * through xpra's HTML5 client in headless Chromium.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  appSearchAttribute,
  sessionStateSearchAttribute,
  sessionWorkflowId,
  userIdSearchAttribute,
} from '../../workflows/messages.js';
import { tcpTable } from '../../activities/container-connections.js';
import { SESSION_IDLE_CONNECTION_SECONDS } from '../../core/traefik-dynamic-config.js';
import { SESSION_CLIENT_BUNDLE_PATH, XPRA_PORTS } from '../../core/ingress-names.js';
import { appCatalogFile } from '../support/app-catalog-file.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { launchChromium, openSessionWindow, type TestBrowser } from '../support/browser.js';
import { containerEvents, docker, execIn, sessionContainers } from '../support/docker.js';
import { PAGE_COLOUR, serveTestPage, type TestPage } from '../support/test-page.js';
import { windowFillsTab, windowShows, windowTitled } from '../support/xpra-page.js';

let chromium: TestBrowser;
let browser: Browser;
let page: TestPage;

beforeAll(async () => {
  page = await serveTestPage(inject('stack').outside);
  chromium = await launchChromium({ trustCaFile: inject('stack').caFile });
  browser = chromium.browser;
});

afterAll(async () => {
  await chromium?.close();
  await page?.close();
});

/** Whether xpra's clipboard in the container forwards apps' requests to a client (`xpra info`). */
async function clipboardEnabled(containerId: string): Promise<boolean> {
  const info = await execIn(containerId, ['xpra', 'info', ':100', '--socket-dir=/tmp/xpra']);
  const found = /^clipboard\.CLIPBOARD\.enabled=(True|False)$/m.exec(info.output);
  if (!found) throw new Error(`no clipboard state in xpra info: ${info.output.slice(-300)}`);
  return found[1] === 'True';
}

/**
 * Waits until no connection to xpra's ports is open in the container (its TCP table, read from
 * the host), then a little longer: a monitor pass that saw one may still be asking xpra.
 */
async function untilNoConnectionToXpra(containerId: string, seconds = 15): Promise<void> {
  const pid = (await docker.getContainer(containerId).inspect()).State.Pid;
  const deadline = Date.now() + seconds * 1000;
  while ((await tcpTable(pid, XPRA_PORTS))?.established !== 0) {
    if (Date.now() > deadline) throw new Error(`a connection to xpra was still open after ${seconds} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1500));
}

/** The commands executed in a container over the next `ms` (Docker's exec_create events). */
async function execsIn(containerId: string, ms: number): Promise<string[]> {
  const since = Math.floor(Date.now() / 1000);
  await new Promise((r) => setTimeout(r, ms));
  const until = Math.ceil(Date.now() / 1000);
  return containerEvents(containerId, 'exec_create', since, until);
}

async function waitForSession(t: ApiUnderTest, token: string, id: string, until: (s: any) => boolean, seconds: number): Promise<any> {
  const deadline = Date.now() + seconds * 1000;
  let last: any;
  while (Date.now() < deadline) {
    last = (await t.call('GET', `/v1/sessions/${id}`, { token })).body;
    if (until(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`session ${id} did not reach the expected state in ${seconds}s; last: ${JSON.stringify(last)}`);
}

describe('a Firefox session, end to end', () => {
  let t: ApiUnderTest;
  beforeAll(async () => {
    t = await startApiUnderTest({ HACKSTREAM_ACTIVITY_POLL_SECONDS: '1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('shows the requested page in the browser client, then stops and cleans up', async () => {
    const user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox', url: page.url } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const session = created.body;
    expect(session).toMatchObject({ state: 'ready', app: 'firefox', url: page.url, user_id: user.id });
    // Through the ingress over HTTPS, the certificate verified against the HackStream CA.
    expect(session.connect.browser.url).toMatch(new RegExp(`^${t.sessionOrigin(session.session_id)}/\\?`));
    const [container] = await sessionContainers(session.session_id);
    expect(container).toBeDefined();

    // Nobody is connected (once the ingress's liveness probe of the new route has let go): the
    // worker's session monitor (a pass every second here) leaves xpra alone, so nothing is
    // executed in the container (no `xpra info`).
    await untilNoConnectionToXpra(container!.Id);
    expect(await execsIn(container!.Id, 4000)).toEqual([]);

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const tab = await context.newPage();
    const fetched: { path: string; type: string; headers: Record<string, string> }[] = [];
    // Everything the page and its worker fetch (a dedicated worker's requests are the page's too).
    tab.on('response', async (r) => {
      fetched.push({ path: new URL(r.url()).pathname, type: r.request().resourceType(), headers: await r.allHeaders() });
    });
    // The client runs without the scripts its bundle leaves out (forge.js, the audio decoders, the
    // bug report's zip library): not one uncaught error on its page.
    const pageErrors: string[] = [];
    tab.on('pageerror', (err) => pageErrors.push(err.message));
    // The page's title is Firefox's window title, and its colour fills the streamed window.
    const response = await openSessionWindow(tab, session.connect.browser.url, {
      check: windowShows,
      arg: { title: page.title, colour: PAGE_COLOUR },
    });
    expect(response?.status()).toBe(200);
    // Firefox fills the tab: neither cut off nor streaming rows nobody sees.
    await tab.waitForFunction(windowFillsTab, undefined, { timeout: 15_000 });

    // xpra's HTML5 client came bundled (images/session/bundle-html5-client.py): besides the page
    // itself, everything it fetched came from the bundle (its script, its protocol worker's, its
    // stylesheet, the font and the images it names), nothing from xpra's own folders; the bundle
    // pre-compressed and marked immutable, without xpra's no-cache headers.
    const assets = fetched.filter((f) => f.type !== 'document');
    expect(assets.filter((f) => !f.path.startsWith(SESSION_CLIENT_BUNDLE_PATH)).map((f) => f.path)).toEqual([]);
    // Two scripts, no more: the page's and its worker's (preloaded by the page, then taken from
    // the cache by the worker), which the client starts without a check worker first.
    const scripts = [...new Set(assets.filter((f) => f.path.endsWith('.js')).map((f) => f.path))];
    for (const stem of ['client-', 'protocol-']) expect(scripts.filter((p) => p.includes(`/${stem}`)), stem).toHaveLength(1);
    expect(scripts).toHaveLength(2);
    expect(assets.some((f) => f.path.endsWith('.woff'))).toBe(true);
    const bundle = fetched.find((s) => s.path.includes('/client-') && s.path.endsWith('.js'))!;
    expect(bundle.headers).toMatchObject({ 'content-encoding': 'br', 'cache-control': 'private, max-age=31536000, immutable' });
    expect(bundle.headers['pragma']).toBeUndefined();
    expect(bundle.headers['expires']).toBeUndefined();
    expect(pageErrors).toEqual([]);
    expect(await tab.locator('[onclick*="show_bugreport"]').count()).toBe(0); // the menu's item went with its library
    // A reconnect in the same browser (the tab closed, a fresh descriptor) takes it from the cache.
    await tab.close();
    const reopened = await context.newPage();
    await openSessionWindow(reopened, await t.freshBrowserUrl(user.token, session.session_id), {
      check: windowShows,
      arg: { title: page.title, colour: PAGE_COLOUR },
    });
    const transferred = await reopened.evaluate(
      (prefix) => performance.getEntriesByType('resource').filter((e) => new URL(e.name).pathname.startsWith(prefix)).map((e) => (e as unknown as { transferSize: number }).transferSize),
      SESSION_CLIENT_BUNDLE_PATH,
    );
    expect(transferred.length).toBeGreaterThanOrEqual(2);
    expect(transferred.every((bytes) => bytes === 0), JSON.stringify(transferred)).toBe(true);

    // The worker saw the client through xpra and moved the session to active.
    const active = await waitForSession(t, user.token, session.session_id, (s) => s.state === 'active', 30);
    expect(active.attached_at).not.toBeNull();
    // The browser's client is the clipboard's peer (the image's clipboard answers apps itself only
    // while no client is attached: test/integration/docker-runtime.test.ts).
    expect(await clipboardEnabled(container!.Id)).toBe(true);
    await context.close();
    // The tab is gone: the ingress closes its idle connections to xpra within seconds (not
    // Traefik's default 90), and then the monitor leaves xpra alone again.
    await untilNoConnectionToXpra(container!.Id, SESSION_IDLE_CONNECTION_SECONDS + 10);
    expect(await execsIn(container!.Id, 3000)).toEqual([]);
    // Once the client left, the clipboard has no peer again.
    expect(await clipboardEnabled(container!.Id)).toBe(false);

    // Firefox took the scripts the image compiled (start-app.sh links them in): it renamed the
    // links to use them (bench/results/firefox-script-cache-ab-*). With a page and a client it may
    // still write a cache of its own, a file beside them.
    const cache = await execIn(container!.Id, ['sh', '-c', 'cd /home/hs/.mozilla/hackstream-profile/startupCache && for f in scriptCache*-current.bin; do echo "$f -> $(readlink "$f")"; done']);
    expect(cache.output.trim().split('\n').sort()).toEqual([
      'scriptCache-child-current.bin -> /usr/lib/hackstream/firefox-script-cache/scriptCache-child.bin',
      'scriptCache-current.bin -> /usr/lib/hackstream/firefox-script-cache/scriptCache.bin',
    ]);

    const stopped = await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: user.token });
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ state: 'stopped', reason: 'user_stop' });

    expect(await sessionContainers(session.session_id)).toHaveLength(0);
    const row = await t.call('GET', `/v1/sessions/${session.session_id}`, { token: user.token });
    expect(row.body).toMatchObject({ state: 'stopped', reason: 'user_stop' });
    const description = await t.temporal.workflow.getHandle(sessionWorkflowId(session.session_id)).describe();
    expect(description.status.name).toBe('COMPLETED');
    // Operators can filter sessions by these in the Temporal UI.
    expect(description.typedSearchAttributes.get(userIdSearchAttribute)).toBe(user.id);
    expect(description.typedSearchAttributes.get(appSearchAttribute)).toBe('firefox');
    expect(description.typedSearchAttributes.get(sessionStateSearchAttribute)).toBe('stopped');

    // Stopping again is harmless and answers the same.
    const again = await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: user.token });
    expect(again.status).toBe(200);
    expect(again.body.state).toBe('stopped');
  });
});

describe('a session nobody uses', () => {
  let t: ApiUnderTest;
  beforeAll(async () => {
    t = await startApiUnderTest({ HACKSTREAM_IDLE_TIMEOUT_SECONDS: '5', HACKSTREAM_CONNECT_TIMEOUT_SECONDS: '600' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is torn down by itself after the idle timeout, with reason idle', async () => {
    const user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.session_id;
    const ended = await waitForSession(t, user.token, id, (s) => s.state === 'stopped' || s.state === 'failed', 60);
    expect(ended).toMatchObject({ state: 'stopped', reason: 'idle', attached_at: null });
    expect(await sessionContainers(id)).toHaveLength(0);
  });
});

describe('idle detection with a client attached', () => {
  let t: ApiUnderTest;
  beforeAll(async () => {
    t = await startApiUnderTest({ HACKSTREAM_IDLE_TIMEOUT_SECONDS: '8', HACKSTREAM_CONNECT_TIMEOUT_SECONDS: '600', HACKSTREAM_ACTIVITY_POLL_SECONDS: '1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('counts input as activity, but not a connection that just sits there', async () => {
    const user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox', url: page.url } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.session_id;
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const tab = await context.newPage();
      await openSessionWindow(tab, created.body.connect.browser.url, { check: windowTitled, arg: page.title });
      // Twice the idle timeout of pointer movement: the session must stay up.
      const until = Date.now() + 16_000;
      for (let i = 0; Date.now() < until; i++) {
        await tab.mouse.move(400 + (i % 2) * 200, 500);
        await new Promise((r) => setTimeout(r, 1500));
      }
      expect((await t.call('GET', `/v1/sessions/${id}`, { token: user.token })).body.state).toBe('active');
      // Then nothing: the client stays connected, yet the session idles out.
      const ended = await waitForSession(t, user.token, id, (s) => s.state === 'stopped' || s.state === 'failed', 60);
      expect(ended).toMatchObject({ state: 'stopped', reason: 'idle' });
      expect(ended.attached_at).not.toBeNull();
    } finally {
      await context.close();
      await t.call('POST', `/v1/sessions/${id}/stop`, { token: user.token });
    }
  });
});

describe('a session whose Firefox is closed', () => {
  let t: ApiUnderTest;
  beforeAll(async () => {
    t = await startApiUnderTest({ HACKSTREAM_ACTIVITY_POLL_SECONDS: '1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('ends with reason app_exited: the container exits with Firefox and the worker notices', async () => {
    const user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.session_id;
    const [container] = await sessionContainers(id);
    const exec = await docker.getContainer(container!.Id).exec({ Cmd: ['pkill', '-TERM', '-f', 'firefox-esr'], User: '1000' });
    await exec.start({ Detach: true });
    const ended = await waitForSession(t, user.token, id, (s) => s.state === 'stopped' || s.state === 'failed', 60);
    expect(ended).toMatchObject({ state: 'stopped', reason: 'app_exited' });
    expect(await sessionContainers(id)).toHaveLength(0);
  });
});

describe('a session that is not ready in time', () => {
  let t: ApiUnderTest;
  beforeAll(async () => {
    // A cold start takes seconds; one second is never enough.
    t = await startApiUnderTest({ HACKSTREAM_CREATE_TIMEOUT_SECONDS: '1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 504 and is torn down', async () => {
    const user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(created.status, JSON.stringify(created.body)).toBe(504);
    expect(created.body.error).toMatchObject({ code: 'session_timeout', session_id: expect.any(String) });
    const id = created.body.error.session_id;
    const ended = await waitForSession(t, user.token, id, (s) => s?.state === 'failed' || s?.state === 'stopped', 60);
    expect(ended).toMatchObject({ state: 'failed', reason: 'provision_timeout' });
    expect(await sessionContainers(id)).toHaveLength(0);
  });
});

describe('a session whose image does not exist', () => {
  let t: ApiUnderTest;
  let catalog: ReturnType<typeof appCatalogFile> | undefined;
  beforeAll(async () => {
    catalog = appCatalogFile({ firefox: { image: 'hackstream/does-not-exist:never' } });
    t = await startApiUnderTest({ HACKSTREAM_APP_CATALOG: catalog.file });
  });
  afterAll(async () => {
    await t?.close();
    catalog?.remove();
  });

  it('fails with a readable reason and leaves no container behind', async () => {
    const user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(created.status).toBe(503);
    expect(created.body.error.code).toBe('session_failed');
    expect(created.body.error.message).toMatch(/session image "hackstream\/does-not-exist:never" is not present/);
    const id = created.body.error.session_id;
    const row = await t.call('GET', `/v1/sessions/${id}`, { token: user.token });
    expect(row.body).toMatchObject({ state: 'failed', reason: 'provision_failed' });
    expect(row.body.message).toMatch(/ImageMissingError/);
    expect(await sessionContainers(id)).toHaveLength(0);
  });
});
