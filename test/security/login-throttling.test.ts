/**
 * Login brute-force protection under concurrency, against the real stack: attempts are counted
 * before the password is hashed (parallel guesses cannot overtake the limit), addresses are
 * limited per IPv6 /64, password hashing is capped per API process (503 beyond), and throttled
 * attempts are aggregated in the audit log.
 *
 * Requests go straight to the API (not through the ingress) with X-Forwarded-For: the API trusts
 * its loopback proxy (HACKSTREAM_TRUST_PROXY=loopback), so each test chooses its client address.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';

interface Answer {
  status: number;
  body: any;
  retryAfter: string | null;
}

/** POST /v1/login from `address`. */
async function loginFrom(t: ApiUnderTest, address: string, username: string, password: string): Promise<Answer> {
  const res = await fetch(`${t.api.url}/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify({ username, password }),
  });
  return { status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after') };
}

/** A /64 no other run or test uses (documentation prefix 2001:db8::/32). */
const freshPrefix = () => `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;

const count = (answers: Answer[], status: number) => answers.filter((a) => a.status === status).length;

async function throttledRows(t: ApiUnderTest, adminToken: string, match: (e: any) => boolean): Promise<any[]> {
  const res = await t.call('GET', '/v1/audit?action=login.throttled&limit=500', { token: adminToken });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.events.filter(match);
}

describe('50 parallel wrong guesses for one account', () => {
  const LIMIT = 5;
  let t: ApiUnderTest;
  let admin: { token: string };
  beforeAll(async () => {
    t = await startApiUnderTest({
      HACKSTREAM_TRUST_PROXY: 'loopback',
      HACKSTREAM_LOGIN_WINDOW_SECONDS: '15',
      HACKSTREAM_LOGIN_MAX_FAILURES_PER_ACCOUNT: String(LIMIT),
      HACKSTREAM_LOGIN_MAX_FAILURES_PER_ADDRESS: '1000',
      HACKSTREAM_PASSWORD_HASH_CONCURRENCY: '2',
    });
    admin = await t.newUser('admin');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('check exactly the limit, refuse the rest with 429 and Retry-After, and audit the refusals in a bounded number of rows', async () => {
    const user = await t.newUser();
    const address = `${freshPrefix()}::7`;
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => loginFrom(t, address, user.username, `wrong ${i}`)));

    expect(answers.map((a) => a.status).sort()).toEqual([...Array(LIMIT).fill(401), ...Array(50 - LIMIT).fill(429)]);
    for (const a of answers.filter((x) => x.status === 429)) {
      expect(a.body).toEqual({ error: { code: 'too_many_attempts', message: expect.stringMatching(/this account/) } });
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
      expect(Number(a.retryAfter)).toBeLessThanOrEqual(15);
    }

    // The right password is refused too while the account is locked.
    const right = await loginFrom(t, address, user.username, user.password);
    expect(right.status, JSON.stringify(right.body)).toBe(429);
    expect(Number(right.retryAfter)).toBeGreaterThan(0);

    const failures = await t.call('GET', `/v1/audit?user=${user.id}&action=login.failure&limit=500`, { token: admin.token });
    expect(failures.body.events).toHaveLength(LIMIT);
    // 46 refusals, one row so far: the lockout's first refusal (the rest are counted until it is over).
    const rows = await throttledRows(t, admin.token, (e) => e.actor_name === user.username);
    expect(rows).toHaveLength(1);
    expect(rows[0].details).toEqual({ scope: 'account', count: 1 });

    // Once the lockout is over, the next attempt let through writes the rest as one row.
    await new Promise((r) => setTimeout(r, (Number(right.retryAfter) + 1) * 1000));
    expect((await loginFrom(t, address, user.username, user.password)).status).toBe(200);
    const after = await throttledRows(t, admin.token, (e) => e.actor_name === user.username);
    expect(after).toHaveLength(2);
    expect(after[0].details).toEqual({ scope: 'account', count: 50 - LIMIT, summary: true });
  }, 60_000);
});

describe('the address limit, per IPv6 /64', () => {
  const LIMIT = 3;
  let t: ApiUnderTest;
  beforeAll(async () => {
    t = await startApiUnderTest({
      HACKSTREAM_TRUST_PROXY: 'loopback',
      HACKSTREAM_LOGIN_WINDOW_SECONDS: '29',
      HACKSTREAM_LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000',
      HACKSTREAM_LOGIN_MAX_FAILURES_PER_ADDRESS: String(LIMIT),
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const nobody = () => `nobody-${randomUUID().slice(0, 8)}`;

  it('counts every address of one /64 against the same limit, and another /64 apart', async () => {
    const prefix = freshPrefix();
    for (const host of ['::1', ':abcd:1234:5678:9abc', ':0:0:0:ffff']) {
      expect((await loginFrom(t, `${prefix}${host}`, nobody(), 'guess')).status).toBe(401);
    }
    const sameNetwork = await loginFrom(t, `${prefix}:ffff:ffff:ffff:fffe`, nobody(), 'guess');
    expect(sameNetwork.status, JSON.stringify(sameNetwork.body)).toBe(429);
    expect(sameNetwork.body.error).toEqual({ code: 'too_many_attempts', message: expect.stringMatching(/this address/) });
    expect(Number(sameNetwork.retryAfter)).toBeGreaterThan(0);

    expect((await loginFrom(t, `${freshPrefix()}::1`, nobody(), 'guess')).status).toBe(401);
  });

  it('counts an IPv4-mapped IPv6 address as the IPv4 address', async () => {
    const v4 = `198.51.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
    for (let i = 0; i < LIMIT; i++) expect((await loginFrom(t, v4, nobody(), 'guess')).status).toBe(401);
    expect((await loginFrom(t, `::ffff:${v4}`, nobody(), 'guess')).status).toBe(429);
  });
});

describe('the cap on concurrent password hashes', () => {
  const LIMIT = 20;
  let t: ApiUnderTest;
  beforeAll(async () => {
    t = await startApiUnderTest({
      HACKSTREAM_TRUST_PROXY: 'loopback',
      HACKSTREAM_LOGIN_WINDOW_SECONDS: '37',
      HACKSTREAM_LOGIN_MAX_FAILURES_PER_ACCOUNT: String(LIMIT),
      HACKSTREAM_LOGIN_MAX_FAILURES_PER_ADDRESS: '1000',
      HACKSTREAM_PASSWORD_HASH_CONCURRENCY: '1',
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers a burst beyond it with 503 and Retry-After, and gives those attempts back to the account', async () => {
    const user = await t.newUser();
    const address = `${freshPrefix()}::1`;
    const burst = await Promise.all(Array.from({ length: LIMIT }, (_, i) => loginFrom(t, address, user.username, `wrong ${i}`)));
    expect(burst.every((a) => a.status === 401 || a.status === 503), JSON.stringify(burst.map((a) => a.status))).toBe(true);
    const busy = burst.filter((a) => a.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    for (const a of busy) {
      expect(a.body).toEqual({ error: { code: 'password_checks_busy', message: expect.any(String) } });
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
    }

    // A 503 checked no password, so it did not count: the account has exactly the rest of its budget.
    const checked = count(burst, 401);
    const after: number[] = [];
    for (let i = 0; i < LIMIT - checked + 1; i++) after.push((await loginFrom(t, address, user.username, `again ${i}`)).status);
    expect(after).toEqual([...Array(LIMIT - checked).fill(401), 429]);
  }, 60_000);
});
