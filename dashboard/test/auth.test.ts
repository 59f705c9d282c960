/**
 * The dashboard's login state (src/auth.ts) with a scripted fetch: a refresh that was on
 * its way when the login ended here (a password change ends every login, this one's refresh token
 * too, so the refresh is refused) leaves that ending's message in place; a refresh refused while
 * logged in ends the login with its own.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const PAIR = { access_token: 'a1', refresh_token: 'r1', token_type: 'Bearer', expires_in: 20, refresh_expires_in: 3600 };
const REFUSED = { error: { code: 'unauthorized', message: 'the refresh token is not valid' } };

/** fetch answering each call with what the test resolves it with, in order. */
function heldFetch() {
  const pending: Array<(res: Response) => void> = [];
  const calls: string[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn((url: string) => {
      calls.push(url);
      return new Promise<Response>((resolve) => pending.push(resolve));
    }),
  );
  const answer = async (res: Response) => {
    await vi.waitFor(() => expect(pending.length).toBeGreaterThan(0));
    pending.shift()!(res);
  };
  return { calls, answer };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const store = new Map<string, string>();
  vi.stubGlobal('localStorage', { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => store.set(k, v), removeItem: (k: string) => store.delete(k) });
  // No Web Locks: the module then runs refreshes without the cross-tab lock (one tab here).
  vi.stubGlobal('navigator', {});
  vi.resetModules();
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

async function loggedIn() {
  const auth = await import('../src/auth');
  const fetch = heldFetch();
  const login = auth.login('ana', 'a good password');
  await fetch.answer(json(200, PAIR));
  await login;
  expect(auth.authState()).toEqual({ status: 'in' });
  return { auth, fetch };
}

describe('the dashboard login', () => {
  it("keeps the password change's message when a refresh under way is refused after it", async () => {
    const { auth, fetch } = await loggedIn();
    const refreshing = auth.refresh();
    await vi.waitFor(() => expect(fetch.calls).toEqual(['/v1/login', '/v1/token/refresh']));
    // The password change answered first: the page ends the login with its message.
    auth.endLogin('Password changed: log in with the new one.');
    await fetch.answer(json(401, REFUSED));
    await expect(refreshing).resolves.toBeNull();
    expect(auth.authState()).toEqual({ status: 'out', message: 'Password changed: log in with the new one.', startOver: true });
  });

  it('ends the login with its own message when a refresh is refused while logged in', async () => {
    const { auth, fetch } = await loggedIn();
    const refreshing = auth.refresh();
    await fetch.answer(json(401, REFUSED));
    await expect(refreshing).resolves.toBeNull();
    expect(auth.authState()).toEqual({ status: 'out', message: 'Your login has ended: log in again.', startOver: false });
  });
});
