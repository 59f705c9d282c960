/**
 * Sign-in delegated to the operator's proxy, against the real API, database and Redis: requests
 * from the proxy's address (this test, from 127.0.0.1, stands in for it here; the end-to-end test
 * puts a real oauth2-proxy and OpenID provider in front) sign in as the user its headers name, the
 * account made at the first sign-in with the role its groups give, and its login goes on only
 * while the proxy vouches for it. The same headers from any other address (127.0.0.2) are ignored.
 * With local accounts off, nothing signs in or is made by password.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestFrom } from '../support/api-direct.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';

const PROXY = '127.0.0.1';
const STRANGER = '127.0.0.2';
const ROLES = 'hs-admins=admin,hs-users=user';

/** Straight to the API (not through the ingress), from a chosen local address. */
const direct = (t: ApiUnderTest, from: string, method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
  requestFrom(from, new URL(path, t.api.url).href, method, headers, body);

const vouching = (username: string, groups: string[]) => ({
  'X-Forwarded-Preferred-Username': username,
  'X-Forwarded-Email': `${username}@example.org`,
  'X-Forwarded-Groups': groups.join(','),
});

const name = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

describe('sign-in through the proxy', () => {
  let t: ApiUnderTest;
  let admin: { token: string };
  beforeAll(async () => {
    t = await startApiUnderTest({ HACKSTREAM_AUTH_PROXY_SOURCES: `${PROXY}/32`, HACKSTREAM_AUTH_PROXY_ROLES: ROLES });
    admin = await t.newUser('admin');
  }, 60_000);
  afterAll(async () => t?.close());

  const signIn = (username: string, groups: string[], from = PROXY) => direct(t, from, 'POST', '/v1/auth/proxy', vouching(username, groups));
  const me = async (token: string) => (await direct(t, PROXY, 'GET', '/v1/me', { authorization: `Bearer ${token}` })).body;
  const auditOf = async (userId: string, action: string) => (await t.call('GET', `/v1/audit?user=${userId}&action=${action}`, { token: admin.token })).body.events as any[];

  it('makes the account at the first sign-in, its role from its groups, and audits both', async () => {
    const alice = name('alice');
    const first = await signIn(alice, ['staff', 'hs-admins']);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), refresh_token: expect.any(String) });
    const who = await me(first.body.access_token);
    expect(who).toMatchObject({ username: alice, role: 'admin' });
    const listed = await t.call('GET', `/v1/users/${who.id}`, { token: admin.token });
    expect(listed.body).toMatchObject({ username: alice, role: 'admin', identity: 'proxy', pending_password: false });
    expect(await auditOf(who.id, 'user.created')).toEqual([expect.objectContaining({ details: { role: 'admin', identity: 'proxy', email: `${alice}@example.org` } })]);
    expect(await auditOf(who.id, 'login.success')).toEqual([expect.objectContaining({ details: { method: 'proxy', email: `${alice}@example.org`, groups: ['staff', 'hs-admins'] } })]);

    // The next sign-in is the same account; moved to the users' group, it is a user from then on.
    const again = await signIn(alice, ['hs-users']);
    expect(await me(again.body.access_token)).toMatchObject({ id: who.id, role: 'user' });
    expect(await auditOf(who.id, 'user.updated')).toEqual([expect.objectContaining({ details: { role: { from: 'admin', to: 'user' }, by: 'proxy_groups' } })]);
    // The role is the account's, at once: the first login's token is no admin's any more.
    expect((await direct(t, PROXY, 'GET', '/v1/users', { authorization: `Bearer ${first.body.access_token}` })).status).toBe(403);
  });

  it('ignores the same headers from any other address', async () => {
    const mallory = name('mallory');
    const res = await signIn(mallory, ['hs-admins'], STRANGER);
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: 'proxy_sign_in_unavailable' });
    expect((await direct(t, STRANGER, 'GET', '/v1/auth/methods', vouching(mallory, ['hs-admins']))).body).toEqual({ password: true, proxy: false });
    expect((await direct(t, PROXY, 'GET', '/v1/auth/methods', vouching(mallory, ['hs-admins']))).body).toEqual({ password: true, proxy: true });
    // Nor do they stand in for a token anywhere.
    expect((await direct(t, PROXY, 'GET', '/v1/me', vouching(mallory, ['hs-admins']))).status).toBe(401);
    // Nobody was made.
    const users = (await t.call('GET', '/v1/users', { token: admin.token })).body.users as Array<{ username: string }>;
    expect(users.map((u) => u.username)).not.toContain(mallory);
  });

  it('refuses a user whose groups give no role, and never signs in to a local account', async () => {
    const carol = name('carol');
    const none = await signIn(carol, ['staff']);
    expect(none.status).toBe(403);
    expect(none.body.error).toMatchObject({ code: 'no_role', message: expect.stringContaining('staff') });

    const local = await t.newUser();
    const taken = await signIn(local.username, ['hs-admins']);
    expect(taken.status).toBe(409);
    expect(taken.body.error).toMatchObject({ code: 'account_conflict' });
    expect(await auditOf(local.id, 'login.failure')).toEqual([expect.objectContaining({ details: expect.objectContaining({ method: 'proxy', reason: 'local_account' }) })]);
    // And the proxy's account has no password to reset into a local one.
    const dave = name('dave');
    const daveId = (await me((await signIn(dave, ['hs-users'])).body.access_token)).id;
    const reset = await t.call('PATCH', `/v1/users/${daveId}`, { token: admin.token, body: { reset_password: true } });
    expect(reset.status).toBe(409);
    expect(reset.body.error).toMatchObject({ code: 'proxy_account' });
    // Disabled by an admin, it does not sign in.
    expect((await t.call('PATCH', `/v1/users/${daveId}`, { token: admin.token, body: { disabled: true } })).status).toBe(200);
    const disabled = await signIn(dave, ['hs-users']);
    expect(disabled.status).toBe(403);
    expect(disabled.body.error).toMatchObject({ code: 'account_disabled' });
  });

  it('refreshes only while the proxy vouches for the same user with a role', async () => {
    const erin = name('erin');
    const refresh = (token: string, headers: Record<string, string>, from = PROXY) => direct(t, from, 'POST', '/v1/token/refresh', headers, { refresh_token: token });

    let pair = (await signIn(erin, ['hs-users'])).body;
    const ok = await refresh(pair.refresh_token, vouching(erin, ['hs-users']));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    pair = ok.body;
    // Promoted at the identity provider: the refresh brings the role along.
    pair = (await refresh(pair.refresh_token, vouching(erin, ['hs-admins']))).body;
    expect(await me(pair.access_token)).toMatchObject({ role: 'admin' });

    // Not through the proxy (straight to the API): the login ends, its access token with it.
    expect((await direct(t, STRANGER, 'GET', '/v1/me', { authorization: `Bearer ${pair.access_token}` })).status).toBe(200);
    const bypass = await refresh(pair.refresh_token, {}, STRANGER);
    expect(bypass.status).toBe(401);
    expect((await direct(t, STRANGER, 'GET', '/v1/me', { authorization: `Bearer ${pair.access_token}` })).status).toBe(401);

    // Dropped from every mapped group: the next refresh ends the login.
    pair = (await signIn(erin, ['hs-users'])).body;
    expect((await refresh(pair.refresh_token, vouching(erin, ['staff']))).status).toBe(401);
    // Someone else's identity on the request: ends it too.
    pair = (await signIn(erin, ['hs-users'])).body;
    expect((await refresh(pair.refresh_token, vouching(name('frank'), ['hs-users']))).status).toBe(401);
  });
});

describe('local accounts switched off', () => {
  let t: ApiUnderTest;
  beforeAll(async () => {
    t = await startApiUnderTest({ HACKSTREAM_AUTH_PROXY_SOURCES: `${PROXY}/32`, HACKSTREAM_AUTH_PROXY_ROLES: ROLES, HACKSTREAM_LOCAL_ACCOUNTS: 'off' });
  }, 60_000);
  afterAll(async () => t?.close());

  it('signs nobody in by password, makes no local account, and still signs in through the proxy', async () => {
    // newUser makes the account in the database and then logs in by password: refused.
    await expect(t.newUser('admin')).rejects.toThrow(/403.*local_accounts_disabled/);
    expect((await direct(t, STRANGER, 'GET', '/v1/auth/methods')).body).toEqual({ password: false, proxy: false });

    const gina = name('gina');
    const pair = (await direct(t, PROXY, 'POST', '/v1/auth/proxy', vouching(gina, ['hs-admins']))).body;
    const token = pair.access_token as string;
    const created = await t.call('POST', '/v1/users', { token, body: { username: name('local'), role: 'user' } });
    expect(created.status).toBe(403);
    expect(created.body.error).toMatchObject({ code: 'local_accounts_disabled' });
    const redeemed = await t.call('POST', '/v1/redeem', { body: { code: 'x'.repeat(24), password: 'a-long-enough-password' } });
    expect(redeemed.status).toBe(403);
    expect(redeemed.body.error).toMatchObject({ code: 'local_accounts_disabled' });
  });
});
