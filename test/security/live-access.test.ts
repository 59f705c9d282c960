/**
 * Account changes reach live access at once: a password reset, a password change, a role change
 * and disabling the account each revoke the user's browser-path credentials (resume cookies and
 * unused connect tokens) in every session, and ForwardAuth refuses the credentials of a disabled
 * account even if they were issued after it. Credentials are issued on the real Redis and checked
 * by the real API's ForwardAuth endpoint, as Traefik calls it.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectCredentials } from '../../core/connect-credentials.js';
import { CONNECT_AUTH_PATH, RESUME_COOKIE, sessionWebHost } from '../../core/ingress-names.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';

let t: ApiUnderTest;
let admin: { id: string; token: string };
let redis: Redis;
let credentials: ConnectCredentials;

beforeAll(async () => {
  t = await startApiUnderTest();
  admin = await t.newUser('admin');
  redis = new Redis(t.config.redisUrl);
  credentials = new ConnectCredentials(redis, { tokenSeconds: 60, resumeSeconds: 300 });
});
afterAll(async () => {
  redis?.disconnect();
  await t?.close();
});

/** Traefik's ForwardAuth request for a page of the session, with a resume cookie or a token. */
async function forwardAuth(sessionId: string, with_: { cookie?: string; token?: string }): Promise<number> {
  const uri = `/${with_.token ? `?token=${with_.token}` : ''}`;
  const headers: Record<string, string> = { 'x-forwarded-host': sessionWebHost(sessionId, t.config.ingress.domain), 'x-forwarded-uri': uri };
  if (with_.cookie) headers['cookie'] = `${RESUME_COOKIE}=${with_.cookie}`;
  const res = await fetch(`${t.api.url}${CONNECT_AUTH_PATH}`, { headers });
  return res.status;
}

/** Two sessions' resume cookies and an unused connect token, all working now. */
async function liveCredentials(userId: string) {
  const [a, b] = [randomUUID(), randomUUID()];
  const cookies = [
    { sessionId: a, value: (await credentials.issueResume(a, userId)).value },
    { sessionId: b, value: (await credentials.issueResume(b, userId)).value },
  ];
  const token = { sessionId: b, value: (await credentials.issueToken(b, userId)).value };
  for (const c of cookies) expect(await forwardAuth(c.sessionId, { cookie: c.value })).toBe(204);
  return { cookies, token };
}

async function expectAllRevoked(live: Awaited<ReturnType<typeof liveCredentials>>) {
  for (const c of live.cookies) expect(await forwardAuth(c.sessionId, { cookie: c.value })).toBe(401);
  expect(await forwardAuth(live.token.sessionId, { token: live.token.value })).toBe(401);
}

const patchUser = async (id: string, body: unknown) => {
  const res = await t.call('PATCH', `/v1/users/${id}`, { token: admin.token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
};

describe("account changes revoke the user's browser credentials at once", () => {
  it('an admin password reset', async () => {
    const user = await t.newUser();
    const live = await liveCredentials(user.id);
    await patchUser(user.id, { reset_password: true });
    await expectAllRevoked(live);
  });

  it("the user's own password change", async () => {
    const user = await t.newUser();
    const live = await liveCredentials(user.id);
    const res = await t.call('POST', '/v1/me/password', { token: user.token, body: { current_password: user.password, new_password: `${user.password}-new` } });
    expect(res.status, JSON.stringify(res.body)).toBe(204);
    await expectAllRevoked(live);
  });

  it('a role change', async () => {
    const user = await t.newUser();
    const live = await liveCredentials(user.id);
    await patchUser(user.id, { role: 'admin' });
    await expectAllRevoked(live);
  });

  it('disabling the account; credentials issued afterwards are refused too (403)', async () => {
    const user = await t.newUser();
    const live = await liveCredentials(user.id);
    await patchUser(user.id, { disabled: true });
    await expectAllRevoked(live);
    const late = randomUUID();
    const cookie = (await credentials.issueResume(late, user.id)).value;
    expect(await forwardAuth(late, { cookie })).toBe(403);
    const token = (await credentials.issueToken(late, user.id)).value;
    expect(await forwardAuth(late, { token })).toBe(403);
  });

  it("leaves other users' credentials alone, and a quota change revokes nothing", async () => {
    const [user, other] = [await t.newUser(), await t.newUser()];
    const mine = await liveCredentials(user.id);
    const theirs = await liveCredentials(other.id);
    await patchUser(user.id, { quota: { max_sessions: 3 } });
    for (const c of mine.cookies) expect(await forwardAuth(c.sessionId, { cookie: c.value })).toBe(204);
    await patchUser(user.id, { disabled: true });
    for (const c of theirs.cookies) expect(await forwardAuth(c.sessionId, { cookie: c.value })).toBe(204);
    expect(await forwardAuth(theirs.token.sessionId, { token: theirs.token.value })).toBe(204);
  });
});
