/**
 * Sign-in delegated to the operator's proxy, end to end: a real oauth2-proxy in front of the API
 * (and the dashboard it serves), signing users in with a real OpenID provider on loopback
 * (test/support/sign-in-proxy.ts). In Chromium, a user opens the dashboard through the proxy,
 * signs in at the identity provider, lands on the dashboard already signed in (no second login),
 * and launches Firefox; groups map to roles (an admin group's user sees the admin pages, a users'
 * group's user does not, a user in neither is refused). The same identity headers sent straight
 * to the API from an address other than the proxy's sign nobody in.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { User } from '../../core/db/entities.js';
import { requestFrom } from '../support/api-direct.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { launchChromium, type TestBrowser } from '../support/browser.js';
import { REPO_ROOT } from '../support/paths.js';
import { startSignInProxy, type SignInProxy } from '../support/sign-in-proxy.js';

const suffix = Math.random().toString(36).slice(2, 7);
const ALICE = `alice-${suffix}`;
const BOB = `bob-${suffix}`;
const CAROL = `carol-${suffix}`;

let t: ApiUnderTest;
let proxy: SignInProxy;
let chromium: TestBrowser;
let built: string;

beforeAll(async () => {
  built = mkdtempSync(path.join(os.tmpdir(), 'hs-dashboard-'));
  execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'vite'), ['build', '--config', 'dashboard/vite.config.ts', '--outDir', built, '--emptyOutDir', '--logLevel', 'warn'], { cwd: REPO_ROOT, stdio: 'pipe' });
  // Only oauth2-proxy's address is believed: it connects to the API from 127.0.0.1.
  t = await startApiUnderTest({
    HACKSTREAM_DASHBOARD_DIR: built,
    HACKSTREAM_AUTH_PROXY_SOURCES: '127.0.0.1/32',
    HACKSTREAM_AUTH_PROXY_ROLES: 'hs-admins=admin,hs-users=user',
  });
  proxy = await startSignInProxy(t.api.url, { [ALICE]: ['staff', 'hs-admins'], [BOB]: ['hs-users'], [CAROL]: ['staff'] });
  chromium = await launchChromium({ trustCaFile: inject('stack').caFile });
}, 120_000);

afterAll(async () => {
  await chromium?.close();
  await proxy?.stop();
  await t?.close();
  rmSync(built, { recursive: true, force: true });
});

/** Opens the dashboard through the proxy in a browser of its own and signs in at the identity provider. */
async function signInThroughProxy(login: string): Promise<Page> {
  const page = await (await chromium.browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();
  await page.goto(`${proxy.origin}/ui/`);
  // oauth2-proxy sends the browser to the identity provider's login form.
  await page.waitForURL((url) => url.origin === proxy.issuer, { timeout: 15_000 }).catch((err: Error) => {
    throw new Error(`${err.message}\nat ${page.url()}\n${proxy.log()}`);
  });
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password: the development form takes any');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  // Its consent page, then back through oauth2-proxy's callback to the dashboard.
  const consent = page.getByRole('button', { name: 'Continue' });
  await consent.waitFor({ timeout: 15_000 });
  await consent.click();
  await page.waitForURL((url) => url.origin === proxy.origin && url.pathname.startsWith('/ui/'), { timeout: 15_000 }).catch((err: Error) => {
    throw new Error(`${err.message}\nat ${page.url()}\n${proxy.log()}`);
  });
  return page;
}

describe('sign-in through oauth2-proxy and an OpenID provider', () => {
  it('lands an admin group member on the dashboard signed in, and launches Firefox from it', async () => {
    const page = await signInThroughProxy(ALICE);
    // No second login: the dashboard signs in with the proxy's identity by itself.
    await page.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor({ timeout: 15_000 });
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect(nav.getByRole('link', { name: 'All sessions' }).isVisible()).resolves.toBe(true);
    const alice = await t.api.db.em.fork().findOneOrFail(User, { username: ALICE });
    expect(alice).toMatchObject({ role: 'admin', identity: 'proxy', passwordHash: null });

    await page.getByLabel('Web address').fill('https://example.com/');
    await page.getByRole('button', { name: 'Launch Firefox' }).click();
    const mine = page.getByRole('table', { name: 'My sessions' }).getByRole('row').filter({ hasText: 'https://example.com/' });
    await mine.getByRole('cell', { name: 'ready', exact: true }).waitFor({ timeout: 90_000 });
    // Open: the session's own origin through the ingress, with its one-time credentials.
    const [stream] = await Promise.all([page.context().waitForEvent('page'), mine.getByRole('button', { name: 'Open', exact: true }).click()]);
    await stream.waitForURL(/^https:\/\/[0-9a-f-]{36}\.web\.sessions\./, { timeout: 15_000 });
    expect(new URL(stream.url()).searchParams.get('token')).toBeTruthy();
    await stream.close();
    await mine.getByRole('button', { name: 'Stop' }).click();
    await mine.getByRole('cell', { name: 'stopped', exact: true }).waitFor({ timeout: 90_000 });
    await page.context().close();
  });

  it("gives a users' group member the user role, and refuses someone in neither group", async () => {
    const page = await signInThroughProxy(BOB);
    await page.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor({ timeout: 15_000 });
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'All sessions' }).count()).resolves.toBe(0);
    expect(await t.api.db.em.fork().findOneOrFail(User, { username: BOB })).toMatchObject({ role: 'user', identity: 'proxy' });
    await page.context().close();

    const refused = await signInThroughProxy(CAROL);
    await refused.getByRole('alert').filter({ hasText: 'none of your groups (staff) gives a role here' }).waitFor({ timeout: 15_000 });
    expect(await t.api.db.em.fork().findOne(User, { username: CAROL })).toBeNull();
    await refused.context().close();
  });

  it('ignores the identity headers when they come straight to the API from another address', async () => {
    const headers = { 'X-Forwarded-Preferred-Username': ALICE, 'X-Forwarded-Email': `${ALICE}@example.org`, 'X-Forwarded-Groups': 'hs-admins' };
    const { status } = await requestFrom('127.0.0.2', new URL('/v1/auth/proxy', t.api.url).href, 'POST', headers);
    expect(status).toBe(401);
  });
});
