/**
 * Accounts, roles, tokens, quotas, brute-force protection, the second factor and the audit log,
 * against the real stack (sessions are real containers).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { generate } from 'otplib';
import { RevokedFamilies } from '../../api/auth/revoked-families.js';
import { RefreshToken } from '../../core/db/entities.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { appCatalogFile } from '../support/app-catalog-file.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { sessionContainers } from '../support/docker.js';
import { httpsRequest } from '../support/https-client.js';

interface Account {
  id: string;
  username: string;
  password: string;
  token: string;
}

async function login(t: ApiUnderTest, username: string, password: string, extra: Record<string, string> = {}) {
  return t.call('POST', '/v1/login', { body: { username, password, ...extra } });
}

/** The audit records of an action concerning a user (newest first). */
async function auditOf(t: ApiUnderTest, adminToken: string, userId: string, action: string): Promise<any[]> {
  const res = await t.call('GET', `/v1/audit?user=${userId}&action=${action}&limit=500`, { token: adminToken });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.events;
}

function expectError(res: { status: number; body: any }, status: number, code?: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({ error: expect.objectContaining({ code: code ?? expect.any(String), message: expect.any(String) }) });
}

describe('accounts', () => {
  let t: ApiUnderTest;
  let admin: Account;
  beforeAll(async () => {
    t = await startApiUnderTest({ HACKSTREAM_ACTIVITY_POLL_SECONDS: '1' });
    admin = await t.newUser('admin');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('keeps users out of admin routes (403) and lets admins in', async () => {
    const user = await t.newUser();
    for (const [method, url, body] of [
      ['GET', '/v1/users', undefined],
      ['POST', '/v1/users', { username: 'sneaky', role: 'admin', password: 'x'.repeat(16) }],
      ['GET', `/v1/users/${admin.id}`, undefined],
      ['PATCH', `/v1/users/${admin.id}`, { disabled: true }],
      ['GET', '/v1/audit', undefined],
    ] as const) {
      expectError(await t.call(method, url, { token: user.token, body }), 403, 'forbidden');
    }
    const list = await t.call('GET', '/v1/users', { token: admin.token });
    expect(list.status).toBe(200);
    expect(list.body.users.map((u: any) => u.username)).toEqual(expect.arrayContaining([admin.username, user.username]));
    expect(list.body.users[0]).not.toHaveProperty('password_hash');
  });

  it('invites a user with a one-time code that sets their password', async () => {
    const created = await t.call('POST', '/v1/users', { token: admin.token, body: { username: `inv-${Date.now()}` } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { user, invite } = created.body;
    expect(user).toMatchObject({ role: 'user', pending_password: true, disabled: false });
    expectError(await login(t, user.username, 'anything at all 123'), 401, 'unauthorized');

    expectError(await t.call('POST', '/v1/redeem', { body: { code: invite.code, password: 'short' } }), 400, 'invalid_request');
    const redeemed = await t.call('POST', '/v1/redeem', { body: { code: invite.code, password: 'a good long password' } });
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
    expect((await login(t, user.username, 'a good long password')).status).toBe(200);
    expectError(await t.call('POST', '/v1/redeem', { body: { code: invite.code, password: 'another long password' } }), 400, 'invalid_code');

    expect(await auditOf(t, admin.token, user.id, 'user.invited')).toHaveLength(1);
    expect(await auditOf(t, admin.token, user.id, 'invite.redeemed')).toHaveLength(1);
  });

  it('resets a password: the old one stops working, the reset code sets a new one', async () => {
    const user = await t.newUser();
    const reset = await t.call('PATCH', `/v1/users/${user.id}`, { token: admin.token, body: { reset_password: true } });
    expect(reset.status, JSON.stringify(reset.body)).toBe(200);
    expectError(await t.call('GET', '/v1/me', { token: user.token }), 401);
    expectError(await login(t, user.username, user.password), 401);
    expect((await t.call('POST', '/v1/redeem', { body: { code: reset.body.reset_code.code, password: 'brand new password!' } })).status).toBe(200);
    expect((await login(t, user.username, 'brand new password!')).status).toBe(200);
    expect(await auditOf(t, admin.token, user.id, 'user.password_reset')).toHaveLength(1);
  });

  it('disables a user: their token is refused at once, refresh fails, their session is stopped, all audited', async () => {
    const user = await t.newUser();
    const pair = (await login(t, user.username, user.password)).body;
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const sessionId = created.body.session_id;

    const disabled = await t.call('PATCH', `/v1/users/${user.id}`, { token: admin.token, body: { disabled: true } });
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    expect(disabled.body.user.disabled).toBe(true);

    expectError(await t.call('GET', '/v1/me', { token: user.token }), 401, 'unauthorized');
    expectError(await t.call('POST', '/v1/token/refresh', { body: { refresh_token: pair.refresh_token } }), 401, 'unauthorized');
    expectError(await login(t, user.username, user.password), 401, 'unauthorized');

    let session: any;
    for (let i = 0; i < 60; i++) {
      session = (await t.call('GET', `/v1/sessions/${sessionId}`, { token: admin.token })).body;
      if (session.state === 'stopped') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(session).toMatchObject({ state: 'stopped', reason: 'admin_stop' });
    expect(await sessionContainers(sessionId)).toEqual([]);

    const [disabledEvent] = await auditOf(t, admin.token, user.id, 'user.disabled');
    expect(disabledEvent).toMatchObject({ actor_id: admin.id, user_id: user.id, target_id: user.id, details: { sessions_stopped: 1 } });
    const stopped = await auditOf(t, admin.token, user.id, 'session.stopped');
    expect(stopped).toEqual([expect.objectContaining({ actor_id: admin.id, target_id: sessionId, details: { reason: 'admin_stop' } })]);

    const enabled = await t.call('PATCH', `/v1/users/${user.id}`, { token: admin.token, body: { disabled: false } });
    expect(enabled.body.user.disabled).toBe(false);
    expect((await login(t, user.username, user.password)).status).toBe(200);
    expect(await auditOf(t, admin.token, user.id, 'user.enabled')).toHaveLength(1);
  });

  it('rotates refresh tokens; reusing a spent one revokes the whole family', async () => {
    const user = await t.newUser();
    const first = (await login(t, user.username, user.password)).body;
    const refresh = (token: string) => t.call('POST', '/v1/token/refresh', { body: { refresh_token: token } });
    const second = await refresh(first.refresh_token);
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect((await t.call('GET', '/v1/me', { token: second.body.access_token })).status).toBe(200);
    const third = await refresh(second.body.refresh_token);
    expect(third.status).toBe(200);

    // The first token again, after its successor was used: reuse. The family is revoked, the
    // newest refresh token and the access tokens with it.
    expectError(await refresh(first.refresh_token), 401);
    expectError(await refresh(third.body.refresh_token), 401);
    expectError(await t.call('GET', '/v1/me', { token: third.body.access_token }), 401);
    // Other logins of the same user are not affected.
    expect((await t.call('GET', '/v1/me', { token: user.token })).status).toBe(200);
    expect(await auditOf(t, admin.token, user.id, 'token.reuse_detected')).toHaveLength(1);
  });

  it('takes a refresh retried after its answer was lost (within the retry window), and only once', async () => {
    const user = await t.newUser();
    const refresh = (token: string) => t.call('POST', '/v1/token/refresh', { body: { refresh_token: token } });
    const first = (await login(t, user.username, user.password)).body;
    // The answer to this refresh never reaches the client (a reload), which still holds `first`.
    const lost = await refresh(first.refresh_token);
    expect(lost.status).toBe(200);
    const retried = await refresh(first.refresh_token);
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.body.refresh_token).not.toBe(lost.body.refresh_token);
    // The family has one live token: the retry's. The lost one was spent in its place.
    const next = await refresh(retried.body.refresh_token);
    expect(next.status).toBe(200);
    expect(await auditOf(t, admin.token, user.id, 'token.reuse_detected')).toHaveLength(0);
    // Whoever presents the lost token now presents a spent token whose successor was used: reuse.
    expectError(await refresh(lost.body.refresh_token), 401);
    expectError(await refresh(next.body.refresh_token), 401);
    expect(await auditOf(t, admin.token, user.id, 'token.reuse_detected')).toHaveLength(1);
  });


  it('refuses a refresh whose login was ended meanwhile, and ends its new token too (a logout racing the refresh)', async () => {
    const user = await t.newUser();
    const pair = (await login(t, user.username, user.password)).body;
    // What a logout leaves when it lands while a refresh is spending its token: the family marked
    // revoked (Redis), the token the refresh issues not yet revoked in the database.
    const family = JSON.parse(Buffer.from(String(pair.access_token).split('.')[1] ?? '', 'base64url').toString('utf8')).fam as string;
    const redis = new Redis(inject('stack').env['HACKSTREAM_REDIS_URL']!);
    try {
      await new RevokedFamilies(redis, t.config.accessTokenTtlSeconds).revoke(family);
    } finally {
      redis.disconnect();
    }
    expectError(await t.call('POST', '/v1/token/refresh', { body: { refresh_token: pair.refresh_token } }), 401);
    const rows = await t.api.db.em.fork().find(RefreshToken, { familyId: family });
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.every((r) => r.revokedAt !== null)).toBe(true);
  });

  it('logs out: the refresh token and the access token of that login stop working', async () => {
    const user = await t.newUser();
    const pair = (await login(t, user.username, user.password)).body;
    expect((await t.call('POST', '/v1/logout', { token: pair.access_token })).status).toBe(204);
    expectError(await t.call('GET', '/v1/me', { token: pair.access_token }), 401);
    expectError(await t.call('POST', '/v1/token/refresh', { body: { refresh_token: pair.refresh_token } }), 401);
    expect(await auditOf(t, admin.token, user.id, 'logout')).toHaveLength(1);
  });

  it('enforces max_sessions atomically: 30 concurrent creates with a limit of 2 start exactly 2', async () => {
    const user = await t.newUser();
    const quota = await t.call('PATCH', `/v1/users/${user.id}`, { token: admin.token, body: { quota: { max_sessions: 2 } } });
    expect(quota.status, JSON.stringify(quota.body)).toBe(200);
    const before = await t.call('GET', '/v1/quotas', { token: user.token });
    expect(before.body).toMatchObject({ quota: { max_sessions: 2 }, usage: { sessions: 0 } });

    const results = await Promise.all(
      Array.from({ length: 30 }, () => t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } })),
    );
    const created = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status !== 201);
    try {
      expect(created).toHaveLength(2);
      expect(refused).toHaveLength(28);
      for (const r of refused) {
        expect(r.status).toBe(429);
        expect(r.body.error).toMatchObject({ code: 'quota_exceeded', limit: 'max_sessions', max: 2 });
      }
      // Only the two sessions have containers; the refused requests created none.
      const mine = await t.call('GET', '/v1/sessions', { token: user.token });
      expect(mine.body.sessions).toHaveLength(2);
      for (const s of created) expect(await sessionContainers(s.body.session_id)).toHaveLength(1);
      expect((await t.call('GET', '/v1/quotas', { token: user.token })).body.usage.sessions).toBe(2);
    } finally {
      for (const s of created) await t.call('POST', `/v1/sessions/${s.body.session_id}/stop`, { token: user.token });
    }
    expect(await auditOf(t, admin.token, user.id, 'session.created')).toHaveLength(2);
  });

  it('applies the quota to the container and the workflow', async () => {
    const user = await t.newUser();
    await t.call('PATCH', `/v1/users/${user.id}`, { token: admin.token, body: { quota: { memory_mb: 768, cpus: 0.5, idle_timeout_seconds: 4 } } });
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const [container] = await sessionContainers(created.body.session_id);
    const { docker } = await import('../support/docker.js');
    const info = await docker.getContainer(container!.Id).inspect();
    expect(info.HostConfig).toMatchObject({ Memory: 768 * 1024 * 1024, NanoCpus: 0.5e9 });
    // The 4 s idle timeout ends it by itself.
    let state = '';
    for (let i = 0; i < 60 && state !== 'stopped'; i++) {
      state = (await t.call('GET', `/v1/sessions/${created.body.session_id}`, { token: user.token })).body.state;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(state).toBe('stopped');
    expect(await auditOf(t, admin.token, user.id, 'session.expired')).toEqual([expect.objectContaining({ details: { reason: 'idle' }, actor_id: null })]);
  });

  it('audits connect tokens: one record per descriptor issued and per browser token used', async () => {
    const user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.session_id;
    try {
      const opened = await httpsRequest(created.body.connect.browser.url, { caFile: inject('stack').caFile });
      expect(opened.status).toBe(200);
      expect((await t.call('POST', `/v1/sessions/${id}/connect`, { token: user.token })).status).toBe(200);
      const issued = await auditOf(t, admin.token, user.id, 'connect.token_issued');
      expect(issued).toHaveLength(2);
      expect(issued.every((e) => e.target_id === id && e.source_ip)).toBe(true);
      const used = await auditOf(t, admin.token, user.id, 'connect.token_used');
      expect(used).toEqual([expect.objectContaining({ target_id: id, details: { path: 'browser' } })]);
      // Tokens never reach the log.
      const token = new URL(created.body.connect.browser.url).searchParams.get('token')!;
      expect(JSON.stringify([...issued, ...used])).not.toContain(token);
    } finally {
      await t.call('POST', `/v1/sessions/${id}/stop`, { token: user.token });
    }
    expect(await auditOf(t, admin.token, user.id, 'session.stopped')).toEqual([
      expect.objectContaining({ actor_id: user.id, target_id: id, details: { reason: 'user_stop' } }),
    ]);
  });

  it('enrols TOTP; then a login needs a code, a code works once, a recovery code works once', async () => {
    const user = await t.newUser();
    const begin = await t.call('POST', '/v1/me/totp', { token: user.token, body: { password: user.password } });
    expect(begin.status, JSON.stringify(begin.body)).toBe(200);
    expect(begin.body.otpauth_uri).toMatch(/^otpauth:\/\/totp\/HackStream:/);
    expect(begin.body.qr_code).toMatch(/^data:image\/png;base64,/);
    const secret = new URL(begin.body.otpauth_uri).searchParams.get('secret')!;

    expectError(await t.call('POST', '/v1/me/totp/confirm', { token: user.token, body: { code: '000000' } }), 400, 'invalid_totp');
    const confirmed = await t.call('POST', '/v1/me/totp/confirm', { token: user.token, body: { code: await generate({ secret }) } });
    expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
    const recovery: string[] = confirmed.body.recovery_codes;
    expect(recovery).toHaveLength(10);

    expectError(await login(t, user.username, user.password), 401, 'totp_required');
    expectError(await login(t, user.username, user.password, { totp_code: '123456' }), 401, 'invalid_totp');
    // The code confirmed enrolment in this time step: the next step's code is fresh, and within
    // the clock drift a login allows (a step either way), so no wait for the next step.
    const code = await generate({ secret, epoch: (Math.floor(Date.now() / 30_000) + 1) * 30 });
    expect((await login(t, user.username, user.password, { totp_code: code })).status).toBe(200);
    expectError(await login(t, user.username, user.password, { totp_code: code }), 401, 'invalid_totp');

    expect((await login(t, user.username, user.password, { recovery_code: recovery[0]! })).status).toBe(200);
    expectError(await login(t, user.username, user.password, { recovery_code: recovery[0]! }), 401, 'invalid_recovery_code');

    // An admin resets the second factor: the password alone works again.
    expect((await t.call('PATCH', `/v1/users/${user.id}`, { token: admin.token, body: { reset_totp: true } })).status).toBe(200);
    expect((await login(t, user.username, user.password)).status).toBe(200);

    expect(await auditOf(t, admin.token, user.id, 'totp.enrolled')).toHaveLength(1);
    expect(await auditOf(t, admin.token, user.id, 'totp.recovery_code_used')).toHaveLength(1);
    expect(await auditOf(t, admin.token, user.id, 'user.totp_reset')).toHaveLength(1);
    const failures = await auditOf(t, admin.token, user.id, 'login.failure');
    expect(failures.map((e) => e.details.reason).sort()).toEqual(['bad_recovery_code', 'bad_totp', 'bad_totp', 'totp_required']);
  }, 90_000);

  it('pages through the audit log by cursor, newest first, with filters', async () => {
    const user = await t.newUser();
    for (let i = 0; i < 5; i++) await login(t, user.username, user.password);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await t.call('GET', `/v1/audit?user=${user.id}&action=login.success&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: admin.token });
      expect(page.status).toBe(200);
      expect(page.body.events.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.events.map((e: any) => e.occurred_at));
      cursor = page.body.next_cursor;
    } while (cursor);
    // newUser logged in once, then five more.
    expect(seen).toHaveLength(6);
    expect([...seen].sort().reverse()).toEqual(seen);

    const since = new Date(Date.now() - 60_000).toISOString();
    const recent = await t.call('GET', `/v1/audit?user=${user.id}&since=${encodeURIComponent(since)}`, { token: admin.token });
    expect(recent.body.events.length).toBeGreaterThanOrEqual(6);
    const none = await t.call('GET', `/v1/audit?user=${user.id}&until=${encodeURIComponent(since)}`, { token: admin.token });
    expect(none.body.events).toEqual([]);
  });

  it('rejects malformed input on the new endpoints with a 4xx JSON error', async () => {
    const bad: Array<[string, string, unknown, number]> = [
      ['POST', '/v1/users', { username: 'x' }, 400],
      ['POST', '/v1/users', { username: 'okname', role: 'root' }, 400],
      ['POST', '/v1/users', { username: 'okname', password: 'short' }, 400],
      ['POST', '/v1/users', { username: 'okname', extra: 1 }, 400],
      ['POST', '/v1/users', { username: admin.username, password: 'long enough password' }, 409],
      ['PATCH', `/v1/users/${admin.id}`, {}, 400],
      ['PATCH', `/v1/users/${admin.id}`, { disabled: 'yes' }, 400],
      ['PATCH', `/v1/users/${admin.id}`, { quota: { max_sessions: -1 } }, 400],
      ['PATCH', `/v1/users/${admin.id}`, { quota: { gpus: 1 } }, 400],
      ['PATCH', '/v1/users/not-a-uuid', { disabled: true }, 400],
      ['PATCH', '/v1/users/7f1d0a4e-3c55-4b2e-9c1e-2a9b8c7d6e5f', { disabled: true }, 404],
      ['GET', '/v1/audit?action=nope', undefined, 400],
      ['GET', '/v1/audit?limit=0', undefined, 400],
      ['GET', '/v1/audit?cursor=garbage', undefined, 400],
      ['GET', '/v1/audit?since=yesterday', undefined, 400],
      ['POST', '/v1/me/totp/confirm', { code: '12' }, 400],
    ];
    for (const [method, url, body, status] of bad) {
      const res = await t.call(method, url, { token: admin.token, body });
      expect(res.status, `${method} ${url} ${JSON.stringify(body)} → ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.body.error).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String) }));
    }
    for (const [url, body] of [
      ['/v1/token/refresh', {}],
      ['/v1/token/refresh', { refresh_token: 7 }],
      ['/v1/redeem', { code: 'x' }],
      ['/v1/login', { username: 'a', password: 'b', totp_code: 'abc' }],
    ] as const) {
      const res = await t.call('POST', url, { body });
      expect(res.status, `${url} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expectError(await t.call('POST', '/v1/token/refresh', { body: { refresh_token: 'not-a-token' } }), 401);
    expectError(await t.call('POST', '/v1/redeem', { body: { code: 'not-a-code', password: 'long enough password' } }), 400, 'invalid_code');
  });
});

describe('a session that cannot start', () => {
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

  it('leaves one session.created and one session.failed record, with the reason', async () => {
    const admin = await t.newUser('admin');
    const user = await t.newUser();
    const res = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(res.status).toBe(503);
    expect(await auditOf(t, admin.token, user.id, 'session.created')).toHaveLength(1);
    const failed = await auditOf(t, admin.token, user.id, 'session.failed');
    expect(failed).toEqual([expect.objectContaining({ target_id: res.body.error.session_id, details: expect.objectContaining({ reason: 'provision_failed' }) })]);
    expect(failed[0].details.message).toMatch(/ImageMissingError/);
  });
});

describe('brute-force protection', () => {
  let t: ApiUnderTest;
  let admin: Account;
  beforeAll(async () => {
    t = await startApiUnderTest({ HACKSTREAM_LOGIN_WINDOW_SECONDS: '8', HACKSTREAM_LOGIN_MAX_FAILURES_PER_ACCOUNT: '10', HACKSTREAM_LOGIN_MAX_FAILURES_PER_ADDRESS: '1000' });
    admin = await t.newUser('admin');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('locks an account after repeated failures, refuses even the right password until the window passes, and audits every attempt', async () => {
    const user = await t.newUser();
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await login(t, user.username, `wrong password ${i}`)).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(10).fill(429));

    const locked = await login(t, user.username, user.password);
    expectError(locked, 429, 'too_many_attempts');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(8);

    await new Promise((r) => setTimeout(r, (Number(locked.headers['retry-after']) + 1) * 1000));
    expect((await login(t, user.username, user.password)).status).toBe(200);

    const failures = await auditOf(t, admin.token, user.id, 'login.failure');
    const throttled = (await t.call('GET', `/v1/audit?action=login.throttled&limit=500`, { token: admin.token })).body.events.filter(
      (e: any) => e.actor_name === user.username,
    );
    expect(failures).toHaveLength(10);
    // Ten wrong passwords and the right one, while locked, all accounted for, in two rows: the
    // lockout's first refusal, and the rest written by the first attempt after it (aggregated).
    expect(throttled).toHaveLength(2);
    expect(throttled.reduce((n: number, e: any) => n + e.details.count, 0)).toBe(11);
    expect(failures.every((e) => e.source_ip && !JSON.stringify(e).includes('wrong password'))).toBe(true);
  }, 60_000);
});

describe('brute-force protection per address', () => {
  let t: ApiUnderTest;
  beforeAll(async () => {
    // Its own window length, so its counters are not the previous block's.
    t = await startApiUnderTest({ HACKSTREAM_LOGIN_WINDOW_SECONDS: '7', HACKSTREAM_LOGIN_MAX_FAILURES_PER_ADDRESS: '5' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses an address that tried too many accounts, with Retry-After', async () => {
    for (let i = 0; i < 5; i++) expect((await login(t, `nobody-${i}-${Date.now()}`, 'guess')).status).toBe(401);
    const refused = await login(t, `someone-else-${Date.now()}`, 'guess');
    expectError(refused, 429, 'too_many_attempts');
    expect(refused.body.error.message).toMatch(/this address/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('the last admin', () => {
  let t: ApiUnderTest;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-lastadmin-'));
  beforeAll(async () => {
    // A database of its own, where the first admin is the only one.
    t = await startApiUnderTest({ HACKSTREAM_DB_PATH: path.join(dir, 'accounts.sqlite'), HACKSTREAM_ADMIN_USERNAME: 'root-admin', HACKSTREAM_ADMIN_PASSWORD: 'first admin password' });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('can be neither disabled nor demoted, until there is another', async () => {
    const token = (await login(t, 'root-admin', 'first admin password')).body.access_token;
    const me = (await t.call('GET', '/v1/me', { token })).body;
    expectError(await t.call('PATCH', `/v1/users/${me.id}`, { token, body: { disabled: true } }), 409, 'last_admin');
    expectError(await t.call('PATCH', `/v1/users/${me.id}`, { token, body: { role: 'user' } }), 409, 'last_admin');
    const other = await t.call('POST', '/v1/users', { token, body: { username: 'second-admin', role: 'admin', password: 'second admin password' } });
    expect(other.status).toBe(201);
    const demoted = await t.call('PATCH', `/v1/users/${me.id}`, { token, body: { role: 'user' } });
    expect(demoted.status).toBe(200);
    // A role change voids the old token (it named the old role).
    expectError(await t.call('GET', '/v1/me', { token }), 401);
  });
});
