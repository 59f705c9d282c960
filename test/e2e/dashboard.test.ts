/**
 * The web dashboard (dashboard/, served by the API at /ui/) in Chromium through the ingress, by
 * clicking as its users do: an admin logs in and invites a user; the user redeems the invitation
 * in another browser, logs in, launches Firefox and sees it become ready; the admin sees it among
 * all sessions and stops it; the user's page shows it stopped; the audit page shows the
 * invitation, the launch and the stop. Every page is checked with axe (no serious or critical
 * violation) under the dashboard's strict content security policy (nothing refused), and
 * screenshotted into test-results/dashboard/. Then two tabs of one login refresh their tokens at
 * the same moment, again and again, and both stay logged in (no refresh token is ever reused). And
 * a user enrols TOTP and changes the password from the account page, then logs in with both.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { generate } from 'otplib';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { launchChromium, type TestBrowser } from '../support/browser.js';
import { REPO_ROOT } from '../support/paths.js';
import { sessionSnapshotQuery } from '../../workflows/messages.js';
import { openDatabase } from '../../core/db/orm.js';
import { User } from '../../core/db/entities.js';
import { SessionRows } from '../../core/session-rows.js';
import { NodeRegistry } from '../../core/node-registry.js';
import { createNodeKey } from '../../core/node-identity.js';

const SCREENSHOTS = path.join(REPO_ROOT, 'test-results', 'dashboard');
/** Short, so that the tabs below refresh many times within the test. */
const ACCESS_TOKEN_SECONDS = 20;
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let t: ApiUnderTest;
let chromium: TestBrowser;
let built: string;
const refused: string[] = [];

beforeAll(async () => {
  // The dashboard as `npm run build` builds it, into a folder of this test's own.
  built = mkdtempSync(path.join(os.tmpdir(), 'hs-dashboard-'));
  execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'vite'), ['build', '--config', 'dashboard/vite.config.ts', '--outDir', built, '--emptyOutDir', '--logLevel', 'warn'], { cwd: REPO_ROOT, stdio: 'pipe' });
  t = await startApiUnderTest({
    HACKSTREAM_DASHBOARD_DIR: built,
    HACKSTREAM_ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_SECONDS),
    HACKSTREAM_TEMPORAL_UI_URL: 'http://127.0.0.1:8233',
  });
  chromium = await launchChromium({ trustCaFile: inject('stack').caFile });
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await chromium?.close();
  await t?.close();
  rmSync(built, { recursive: true, force: true });
});

async function newPage(context?: BrowserContext): Promise<Page> {
  const page = await (context ?? (await chromium.browser.newContext({ viewport: { width: 1100, height: 800 } }))).newPage();
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) refused.push(msg.text());
  });
  page.on('request', (req) => {
    if (!req.url().startsWith(t.origin) && !req.url().startsWith('data:')) refused.push(`request outside the stack: ${req.url()}`);
  });
  return page;
}

/** axe-core on the page as it is now: serious and critical violations, by rule and element. */
async function accessibilityProblems(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await (globalThis as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> }> } }).axe.run();
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.targets.join(', ')}`);
}

async function checkPage(page: Page, name: string, heading: string): Promise<void> {
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  expect(await accessibilityProblems(page), `${name}: accessibility`).toEqual([]);
}

async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor();
}

/** What a stop that did not show was waiting for: the page's alerts, the workflow and its pending activities. */
async function whyNotStopped(page: Page, workflowUrl: string): Promise<string> {
  const alerts = await page.getByRole('alert').allTextContents();
  const handle = t.temporal.workflow.getHandle(decodeURIComponent(workflowUrl.split('/').pop()!));
  const described = await handle.describe().catch((err: Error) => ({ error: err.message }));
  const pending = 'raw' in described ? (described.raw.pendingActivities ?? []).map((a) => `${a.activityType?.name} attempt ${a.attempt} ${a.lastFailure?.message ?? ''}`) : [];
  const snapshot = await handle.query(sessionSnapshotQuery).catch((err: Error) => ({ state: `query failed: ${err.message}` }));
  return JSON.stringify({ alerts, status: 'status' in described ? described.status.name : described, pending, state: snapshot.state });
}

const rowOf = (page: Page, table: string, text: string) => page.getByRole('table', { name: table }).getByRole('row').filter({ hasText: text });

describe('the dashboard, by clicking', () => {
  it('invite → redeem → launch → ready → admin stops it → the user sees it stopped → audited', async () => {
    const admin = await t.newUser('admin');
    const invitee = `dash-${Date.now().toString(36)}`;
    const password = 'a dashboard password';

    // The admin logs in and invites a user.
    const adminPage = await newPage();
    await adminPage.goto(`${t.origin}/ui/`);
    await checkPage(adminPage, '01-login', 'Log in');
    await logIn(adminPage, admin.username, admin.password);
    await adminPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await adminPage.getByLabel('New username').fill(invitee);
    await adminPage.getByRole('button', { name: 'Invite' }).click();
    const invitation = adminPage.getByRole('status').filter({ hasText: 'Invitation code' });
    const code = (await invitation.locator('code').textContent())!.trim();
    expect(code.length).toBeGreaterThan(10);
    await checkPage(adminPage, '02-users-invited', 'Users');

    // The user, in a browser of their own: redeems the invitation, logs in, launches Firefox.
    const userPage = await newPage();
    await userPage.goto(`${t.origin}/ui/#/redeem`);
    await userPage.getByLabel('Invitation code').fill(code);
    await userPage.getByLabel('New password').fill(password);
    await userPage.getByLabel('Repeat password').fill(password);
    await checkPage(userPage, '03-redeem', 'Redeem an invitation');
    await userPage.getByRole('button', { name: 'Set password' }).click();
    await userPage.getByText('Password set: you can log in now.').waitFor();
    await userPage.getByRole('link', { name: 'Log in' }).click();
    await logIn(userPage, invitee, password);
    await userPage.getByLabel('Web address').fill('https://example.com/');
    await userPage.getByLabel('Quality').selectOption('low');
    // With their persistent profile: the quota shows its storage, and the session runs with the profile.
    await userPage.getByLabel('Keep my profile').check();
    await expect(userPage.getByText(/^0 of \d+ MB$/).isVisible()).resolves.toBe(true);
    await userPage.getByRole('button', { name: 'Launch Firefox' }).click();
    const mine = rowOf(userPage, 'My sessions', 'https://example.com/');
    await mine.getByRole('cell', { name: 'ready', exact: true }).waitFor({ timeout: 90_000 });
    await expect(mine.getByRole('button', { name: 'Open', exact: true }).isVisible()).resolves.toBe(true);
    expect(await mine.getByRole('link', { name: 'Open in the app' }).getAttribute('href')).toMatch(/^hackstream:\/\/localhost:\d+\/sessions\/[0-9a-f-]{36}$/);
    await checkPage(userPage, '04-user-session-ready', 'Sessions');
    // It has the user's profile: a second persistent session of theirs would be refused.
    const inviteeRow = await t.api.db.em.fork().findOneOrFail(User, { username: invitee });
    expect(await new SessionRows(t.api.db).profileHolder(inviteeRow.id, 'firefox')).toMatch(/^[0-9a-f-]{36}$/);
    // Open: a new tab on the session's own origin, with fresh one-time credentials.
    const [stream] = await Promise.all([userPage.context().waitForEvent('page'), mine.getByRole('button', { name: 'Open', exact: true }).click()]);
    await stream.waitForURL(/^https:\/\/[0-9a-f-]{36}\.web\.sessions\./, { timeout: 15_000 });
    expect(new URL(stream.url()).searchParams.get('token')).toBeTruthy();

    // The admin finds it among all sessions and stops it.
    await adminPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'All sessions' }).click();
    const theirs = rowOf(adminPage, 'All sessions', invitee).filter({ hasText: /ready|active/ });
    await theirs.waitFor({ timeout: 15_000 });
    await checkPage(adminPage, '05-all-sessions', 'All sessions');
    const workflow = await theirs.getByRole('link', { name: 'Workflow' }).getAttribute('href');
    expect(workflow).toMatch(/^http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/session-[0-9a-f-]{36}$/);
    // Once the user's tab has attached (the row's last change before the stop), the admin stops
    // it: the click must reach the API (it answers once the session has stopped, or after 15 s).
    await rowOf(adminPage, 'All sessions', invitee).getByRole('cell', { name: 'active', exact: true }).waitFor({ timeout: 30_000 });
    const [stopAnswer] = await Promise.all([
      adminPage.waitForResponse((r) => r.request().method() === 'POST' && /\/v1\/sessions\/[0-9a-f-]{36}\/stop$/.test(r.url()), { timeout: 30_000 }),
      theirs.getByRole('button', { name: 'Stop' }).click(),
    ]);
    expect([200, 202]).toContain(stopAnswer.status());
    await rowOf(adminPage, 'All sessions', invitee)
      .getByRole('cell', { name: 'stopped', exact: true })
      .waitFor({ timeout: 30_000 })
      .catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await whyNotStopped(adminPage, workflow!)}`);
      });
    // The filters: stopped sessions of that user still list it, live ones no longer do.
    await adminPage.getByLabel('User').selectOption({ label: invitee });
    await adminPage.getByLabel('State').selectOption('stopped');
    await rowOf(adminPage, 'All sessions', invitee).getByRole('cell', { name: 'stopped', exact: true }).waitFor();
    await adminPage.getByLabel('State').selectOption('live');
    await adminPage.getByRole('table', { name: 'All sessions' }).getByText('No sessions match.').waitFor();

    // The user's page shows it stopped (it polls).
    await mine.getByRole('cell', { name: 'stopped', exact: true }).waitFor({ timeout: 15_000 });
    await checkPage(userPage, '06-user-session-stopped', 'Sessions');

    // The audit log, filtered to the user: the invitation, the launch and the stop.
    await adminPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
    await adminPage.getByLabel('User').selectOption({ label: invitee });
    await adminPage.getByRole('button', { name: 'Apply' }).click();
    const audit = adminPage.getByRole('table', { name: 'Audit log' });
    for (const action of ['user.invited', 'invite.redeemed', 'session.created', 'session.stopped']) {
      await audit.getByRole('cell', { name: action, exact: true }).first().waitFor({ timeout: 15_000 });
    }
    await checkPage(adminPage, '07-audit', 'Audit log');

    // The other pages, for the accessibility check and their screenshots.
    await adminPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
    await adminPage.getByRole('table', { name: 'Warm pools' }).waitFor();
    await checkPage(adminPage, '08-overview', 'Overview');
    await userPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await checkPage(userPage, '09-account', 'Account');

    // The admin sets the user's quota and disables the account: the user's page (it polls) ends its login.
    await userPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sessions' }).click();
    await adminPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    const account = rowOf(adminPage, 'Users', invitee);
    await account.getByLabel(`Max sessions for ${invitee}`).fill('3');
    await account.getByRole('button', { name: 'Save quota' }).click();
    // Access tokens here live 20 s: a fresh one for the test's own look.
    const looking = await t.login(admin.username, admin.password);
    await expect.poll(async () => (await t.call('GET', '/v1/users', { token: looking })).body.users.find((u: { username: string }) => u.username === invitee).quota_overrides).toEqual({ max_sessions: 3 });
    const userOf = async () => (await t.call('GET', '/v1/users', { token: looking })).body.users.find((u: { username: string }) => u.username === invitee);
    await account.getByLabel(`Role for ${invitee}`).selectOption('admin');
    await expect.poll(async () => (await userOf()).role).toBe('admin');
    await account.getByLabel(`Role for ${invitee}`).selectOption('user');
    await expect.poll(async () => (await userOf()).role).toBe('user');
    // A password reset: its code is shown once, and redeems.
    await account.getByRole('button', { name: 'Reset password' }).click();
    const reset = adminPage.getByRole('status').filter({ hasText: `Password reset code for ${invitee}` });
    const resetCode = (await reset.locator('code').textContent())!.trim();
    expect((await t.call('POST', '/v1/redeem', { body: { code: resetCode, password: 'a reset dashboard password' } })).status).toBe(200);
    await account.getByRole('button', { name: 'Disable' }).click();
    await account.getByRole('cell', { name: 'disabled', exact: true }).waitFor();
    await userPage.getByRole('heading', { level: 1, name: 'Log in' }).waitFor({ timeout: 30_000 });

    expect(refused).toEqual([]);
    await adminPage.context().close();
    await userPage.context().close();
  }, 240_000);

  it('the audit log pages forward and back: each page its own events, the first page the same as before', async () => {
    // One user with more events than a page holds (50): its creation and 54 logins.
    const user = await t.newUser();
    for (let i = 0; i < 54; i++) await t.login(user.username, user.password);
    const admin = await t.newUser('admin');
    const expected = (await t.call('GET', `/v1/audit?user=${user.id}&limit=100`, { token: admin.token })).body.events.map((e: { id: string; occurred_at: string }) => e.occurred_at);
    expect(expected.length).toBeGreaterThan(50);

    const page = await newPage();
    await page.goto(`${t.origin}/ui/`);
    await logIn(page, admin.username, admin.password);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
    await page.getByLabel('User').selectOption({ label: user.username });
    // The unfiltered log is also "page 1" and not busy until the click's render: wait for the
    // filtered answer, after which the table stays busy until it shows that answer.
    const filtered = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/audit' && new URL(r.url()).searchParams.get('user') === user.id);
    await page.getByRole('button', { name: 'Apply' }).click();
    expect((await filtered).status()).toBe(200);
    /** The page shown once its number is `n` and no answer is outstanding: its events' times. */
    const shownPage = async (n: number) => {
      const table = page.getByRole('table', { name: `Audit log, page ${n}`, exact: true });
      await table.and(page.locator('[aria-busy="false"]')).waitFor();
      return table.locator('tbody time').evaluateAll((times) => times.map((el) => el.getAttribute('datetime')));
    };
    const first = await shownPage(1);
    expect(first).toEqual(expected.slice(0, 50));
    await page.getByRole('button', { name: 'Next page' }).click();
    expect(await shownPage(2)).toEqual(expected.slice(50));
    await expect(page.getByRole('button', { name: 'Next page' }).count()).resolves.toBe(0);
    await page.getByRole('button', { name: 'Previous page' }).click();
    expect(await shownPage(1)).toEqual(first);
    await page.getByRole('button', { name: 'Next page' }).click();
    await shownPage(2);
    await page.getByRole('button', { name: 'First page' }).click();
    expect(await shownPage(1)).toEqual(first);
    await expect(page.getByRole('button', { name: 'Previous page' }).isDisabled()).resolves.toBe(true);
    expect(refused).toEqual([]);
    await page.context().close();
  }, 120_000);

  it('an admin drains a node, puts it back in service and revokes it from the Nodes page', async () => {
    // A node of its own (entered as its worker would), so the stack's node keeps taking sessions.
    const id = `dash-${Date.now().toString(36)}`;
    const db = await openDatabase(t.config.db);
    try {
      await new NodeRegistry(db).register({ id, labels: { region: 'test' }, capacity: { memoryMb: 4096, cpus: 4, maxSessions: 3 } });
    } finally {
      await db.close();
    }
    const admin = await t.newUser('admin');
    const page = await newPage();
    await page.goto(`${t.origin}/ui/`);
    await logIn(page, admin.username, admin.password);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Nodes' }).click();
    await checkPage(page, 'nodes', 'Nodes');
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: id, exact: true }) });
    const state = row.locator('td').first();
    await expect.poll(() => state.textContent()).toBe('active');
    expect(await row.textContent()).toContain('region=test');
    expect(await row.textContent()).toContain('0 / 3');
    // The stack's own node is listed too, in service.
    const local = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'local', exact: true }) });
    await expect.poll(() => local.locator('td').first().textContent()).toBe('active');

    await row.getByRole('button', { name: `Drain ${id}` }).click();
    await page.getByRole('status').filter({ hasText: `Node ${id} is now draining.` }).waitFor();
    await expect.poll(() => state.textContent()).toBe('draining');
    await row.getByRole('button', { name: `Back in service ${id}` }).click();
    await expect.poll(() => state.textContent()).toBe('active');
    await row.getByRole('button', { name: `Revoke ${id}` }).click();
    await expect.poll(() => state.textContent()).toBe('revoked');
    expect(await row.getByRole('button').count()).toBe(0);
    const audit = await t.call('GET', `/v1/audit?action=node.drained&limit=5`, { token: admin.token });
    expect(audit.body.events.map((e: { target_id: string }) => e.target_id)).toContain(id);

    // An enrolled node waits with its key's fingerprint shown, and is approved from its row.
    const edge = `dash-edge-${Date.now().toString(36)}`;
    const edgeKey = await createNodeKey(edge);
    const enrolled = await t.call('POST', '/v1/node-agent/enroll', { body: { csr: edgeKey.csrPem, capacity: { memory_mb: 1024, cpus: 1, sessions: 1 } } });
    expect(enrolled.status).toBe(202);
    const edgeRow = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: edge, exact: true }) });
    await expect.poll(() => edgeRow.locator('td').first().textContent(), { timeout: 15_000 }).toBe('pending');
    expect(await edgeRow.locator('code').textContent()).toBe(edgeKey.fingerprint);
    expect(await row.textContent()).toContain('installed (no key)');
    await edgeRow.getByRole('button', { name: `Approve ${edge}` }).click();
    await expect.poll(() => edgeRow.locator('td').first().textContent()).toBe('active');
    expect(refused).toEqual([]);
    await page.context().close();
  }, 120_000);

  it('a user enrols TOTP from the QR page, changes the password, and logs in again with both', async () => {
    const user = await t.newUser();
    const page = await newPage();
    // This test timed out twice in CI and never here: what the page showed then says where it stood.
    onTestFailed(async () => {
      console.log(`page when the test failed: ${page.url()}\n${await page.locator('body').innerText().catch((err: unknown) => String(err))}`);
    });
    await page.goto(`${t.origin}/ui/`);
    await logIn(page, user.username, user.password);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await page.getByLabel('Password (current)').fill(user.password);
    await page.getByRole('button', { name: 'Enable TOTP' }).click();
    await page.getByRole('img', { name: 'TOTP QR code' }).waitFor();
    const secret = (await page.locator('code.secret').textContent())!.trim();
    await checkPage(page, '10-totp-enrolment', 'Account');
    // The code of 20 s ago (the previous one, most of the time; within the server's tolerance): the
    // login below then has a fresh code at once instead of waiting for the authenticator's next.
    const enrolled = await generate({ secret, epoch: Math.floor(Date.now() / 1000) - 20 });
    await page.getByLabel('Code from your authenticator').fill(enrolled);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => page.getByRole('status').getByRole('listitem').count()).toBe(10);

    await page.getByLabel('Current password', { exact: true }).fill(user.password);
    await page.getByLabel('New password', { exact: true }).fill('a brand new password');
    await page.getByLabel('Repeat new password').fill('a brand new password');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Password changed: log in with the new one.').waitFor();

    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password', { exact: true }).fill('a brand new password');
    await page.getByRole('button', { name: 'Log in' }).click();
    // A code is good once: wait for the authenticator's next one.
    let code = await generate({ secret });
    while (code === enrolled) {
      await new Promise((r) => setTimeout(r, 1000));
      code = await generate({ secret });
    }
    await page.getByLabel('TOTP code').fill(code);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor();
    expect(refused).toEqual([]);
    await page.context().close();
  }, 120_000);

  it('two tabs of one login that refresh at the same moment both stay logged in, without tripping reuse detection', async () => {
    const user = await t.newUser();
    const context = await chromium.browser.newContext();
    const first = await newPage(context);
    await first.goto(`${t.origin}/ui/`);
    await logIn(first, user.username, user.password);
    const second = await newPage(context);
    await second.goto(`${t.origin}/ui/`);
    await second.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor();

    // Both tabs load at once, so both refresh at once (a fresh tab has no access token), five
    // times over; in between they also refresh on their own timers (tokens live 20 s).
    for (let round = 0; round < 5; round++) {
      await Promise.all([first.reload(), second.reload()]);
      await Promise.all([first, second].map((p) => p.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor()));
    }
    await new Promise((r) => setTimeout(r, (ACCESS_TOKEN_SECONDS + 5) * 1000));
    for (const page of [first, second]) {
      await page.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor();
      await expect(page.getByRole('heading', { level: 1, name: 'Log in' }).count()).resolves.toBe(0);
      // An API call made now still works: the quota section shows the user's limit.
      await page.reload();
      await page.getByText(/of \d+ sessions/).first().waitFor();
    }
    const reuse = await t.call('GET', `/v1/audit?user=${user.id}&action=token.reuse_detected`, { token: (await t.newUser('admin')).token });
    expect(reuse.body.events).toEqual([]);
    expect(refused).toEqual([]);
    await context.close();
  }, 180_000);
});
