/**
 * A SQLite database locked by another process (a backup, an operator's shell holding a write
 * transaction) against the real stack: the API's event loop is not frozen by it. Requests that
 * only read, ForwardAuth of a page's requests included, answer as usual; a write that stays
 * locked out answers 503 dependency_unavailable quickly (a token's first use, whose audit record
 * cannot be written, too); and everything works again once the lock is released.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadWorkerConfig } from '../../core/config.js';
import { RESUME_COOKIE } from '../../core/ingress-names.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { httpsRequest } from '../support/https-client.js';

// better-sqlite3 is the SQLite driver's own dependency (MikroORM's): a second connection, as
// another process would hold it.
const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => { exec(sql: string): void; close(): void };

const stack = inject('stack');
let t: ApiUnderTest;

beforeAll(async () => {
  t = await startApiUnderTest();
});

afterAll(async () => {
  await t?.close();
});

const timed = async <T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> => {
  const start = Date.now();
  const value = await f();
  return { ms: Date.now() - start, value };
};

describe('a locked SQLite database', () => {
  it('never freezes the API: reads and ForwardAuth answer, a locked-out write gets a quick 503, and all recovers', async () => {
    const user = await t.newUser();
    const created = await t.startSession(user.token);
    const id: string = created.session_id;
    const browserUrl = String(created.connect.browser.url);

    // The page's first request spends the one-time token and gets the resume cookie that every
    // later request of the page (its scripts, the websocket, a reconnect) carries.
    const navigate = { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate' };
    const first = await httpsRequest(browserUrl, { caFile: stack.caFile, headers: navigate });
    expect(first.status).toBe(200);
    const cookie = ([] as string[]).concat(first.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
    expect(cookie).toContain(RESUME_COOKIE);

    const other = new Database(loadWorkerConfig(stack.env).db.path);
    other.exec('BEGIN EXCLUSIVE');
    try {
      // A login writes (its refresh token, the audit record): locked out, it fails fast.
      const login = timed(() => t.call('POST', '/v1/login', { body: { username: user.username, password: user.password } }));
      // Meanwhile, in the same API process: reads and the ForwardAuth check of the session's page.
      const list = await timed(() => t.call('GET', '/v1/sessions', { token: user.token }));
      const page = await timed(() => httpsRequest(`${t.sessionOrigin(id)}/`, { caFile: stack.caFile, headers: { ...navigate, cookie } }));
      const refused = await login;
      expect(list.value.status).toBe(200);
      expect(page.value.status, page.value.text.slice(0, 200)).toBe(200);
      expect(refused.value.status, JSON.stringify(refused.value.body)).toBe(503);
      expect(refused.value.body.error.code).toBe('dependency_unavailable');
      // Bounds far below the driver's old 10 s busy wait, which froze every request of the process.
      expect(list.ms).toBeLessThan(2000);
      expect(page.ms).toBeLessThan(2000);
      expect(refused.ms).toBeLessThan(3000);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    const again = await t.call('POST', '/v1/login', { body: { username: user.username, password: user.password } });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect((await t.call('POST', `/v1/sessions/${id}/stop`, { token: user.token })).status).toBe(200);
  });
});
