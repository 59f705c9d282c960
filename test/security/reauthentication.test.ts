/**
 * Re-authentication through the real API and ingress: a stolen access token alone can neither
 * enrol a second factor nor change the password; a wrong current password counts as a failed
 * login; a password change ends every login of the account.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';

const MAX_FAILURES = 3;
let t: ApiUnderTest;
let admin: { id: string; token: string };

beforeAll(async () => {
  t = await startApiUnderTest({ HACKSTREAM_LOGIN_MAX_FAILURES_PER_ACCOUNT: String(MAX_FAILURES) });
  admin = await t.newUser('admin');
});
afterAll(async () => {
  await t?.close();
});

function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
}

async function auditOf(userId: string, action: string): Promise<any[]> {
  const res = await t.call('GET', `/v1/audit?user=${userId}&action=${action}&limit=500`, { token: admin.token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.events;
}

const login = (username: string, password: string) => t.call('POST', '/v1/login', { body: { username, password } });

describe('enrolling TOTP', () => {
  it('needs the current password: missing or wrong is refused, and nothing is enrolled', async () => {
    const user = await t.newUser();
    expectError(await t.call('POST', '/v1/me/totp', { token: user.token }), 400, 'invalid_request');
    expectError(await t.call('POST', '/v1/me/totp', { token: user.token, body: {} }), 400, 'invalid_request');
    expectError(await t.call('POST', '/v1/me/totp', { token: user.token, body: { password: 7 } }), 400, 'invalid_request');
    expectError(await t.call('POST', '/v1/me/totp', { token: user.token, body: { password: `${user.password}x` } }), 401, 'invalid_password');
    // No pending enrolment was started by the refused calls.
    expectError(await t.call('POST', '/v1/me/totp/confirm', { token: user.token, body: { code: '123456' } }), 400, 'invalid_totp');
    expect((await t.call('GET', '/v1/me', { token: user.token })).body.totp_enabled).toBe(false);

    const begin = await t.call('POST', '/v1/me/totp', { token: user.token, body: { password: user.password } });
    expect(begin.status, JSON.stringify(begin.body)).toBe(200);
    expect(begin.body.otpauth_uri).toMatch(/^otpauth:\/\/totp\/HackStream:/);
    expect(begin.headers['cache-control']).toBe('no-store');

    const failures = await auditOf(user.id, 'login.failure');
    expect(failures).toEqual([expect.objectContaining({ user_id: user.id, details: { reason: 'bad_credentials' } })]);
  });

  it('counts wrong passwords like failed logins: past the limit even the right one is refused, at login too', async () => {
    const user = await t.newUser();
    for (let i = 0; i < MAX_FAILURES; i++) {
      expectError(await t.call('POST', '/v1/me/totp', { token: user.token, body: { password: `wrong-${i}` } }), 401, 'invalid_password');
    }
    const throttled = await t.call('POST', '/v1/me/totp', { token: user.token, body: { password: user.password } });
    expectError(throttled, 429, 'too_many_attempts');
    expectError(await login(user.username, user.password), 429, 'too_many_attempts');
  });
});

describe('changing one\'s own password', () => {
  it('refuses without the right current password or with a weak new one, and the old password keeps working', async () => {
    const user = await t.newUser();
    const strong = 'a new password, long enough';
    expectError(await t.call('POST', '/v1/me/password', { token: user.token }), 400, 'invalid_request');
    expectError(await t.call('POST', '/v1/me/password', { token: user.token, body: { new_password: strong } }), 400, 'invalid_request');
    expectError(await t.call('POST', '/v1/me/password', { token: user.token, body: { current_password: user.password, new_password: 'short' } }), 400, 'invalid_request');
    expectError(await t.call('POST', '/v1/me/password', { token: user.token, body: { current_password: user.password, new_password: strong, extra: 1 } }), 400, 'invalid_request');
    expectError(await t.call('POST', '/v1/me/password', { token: user.token, body: { current_password: 'not it', new_password: strong } }), 401, 'invalid_password');
    expectError(await t.call('POST', '/v1/me/password', { body: { current_password: user.password, new_password: strong } }), 401, 'unauthorized');
    expect((await login(user.username, user.password)).status).toBe(200);
    expectError(await login(user.username, strong), 401, 'unauthorized');
    expect(await auditOf(user.id, 'user.password_changed')).toEqual([]);
  });

  it('changes it with the current one, ends every login of the account, and is audited', async () => {
    const user = await t.newUser();
    const other = (await login(user.username, user.password)).body; // a second login, e.g. another device
    const next = 'correct horse battery staple';
    const changed = await t.call('POST', '/v1/me/password', { token: user.token, body: { current_password: user.password, new_password: next } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(204);

    // Both logins' access tokens and the refresh token stop working at once.
    expectError(await t.call('GET', '/v1/me', { token: user.token }), 401, 'unauthorized');
    expectError(await t.call('GET', '/v1/me', { token: other.access_token }), 401, 'unauthorized');
    expectError(await t.call('POST', '/v1/token/refresh', { body: { refresh_token: other.refresh_token } }), 401, 'unauthorized');

    expectError(await login(user.username, user.password), 401, 'unauthorized');
    const fresh = await login(user.username, next);
    expect(fresh.status, JSON.stringify(fresh.body)).toBe(200);
    expect((await t.call('GET', '/v1/me', { token: fresh.body.access_token })).body.id).toBe(user.id);

    const events = await auditOf(user.id, 'user.password_changed');
    expect(events).toEqual([expect.objectContaining({ actor_id: user.id, user_id: user.id, target_id: user.id, source_ip: expect.any(String) })]);
    expect(JSON.stringify(events)).not.toContain(next);
  });
});
