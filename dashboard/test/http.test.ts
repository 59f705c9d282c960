/**
 * The dashboard's one HTTP call (src/http.ts) with a scripted fetch: a request that may
 * be sent twice is sent once more when its connection failed (a network change fails whatever is
 * under way), others are not, and a timeout is never retried.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, send } from '../src/http';

const answer = () => new Response(JSON.stringify({ ok: true }), { status: 200, headers: { 'content-type': 'application/json' } });
const networkChanged = () => new TypeError('Failed to fetch');

function scriptedFetch(...steps: Array<() => Response | Error>) {
  const fetch = vi.fn(() => {
    const step = steps.shift()!();
    return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

afterEach(() => vi.unstubAllGlobals());

describe('send', () => {
  it('sends a GET once more after a failed connection', async () => {
    const fetch = scriptedFetch(networkChanged, answer);
    await expect(send('GET', '/v1/sessions')).resolves.toEqual({ ok: true });
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('sends a POST marked idempotent once more, and gives up after the second failure', async () => {
    const once = scriptedFetch(networkChanged, answer);
    await expect(send('POST', '/v1/sessions/x/stop', undefined, 't', 1000, true)).resolves.toEqual({ ok: true });
    expect(once).toHaveBeenCalledTimes(2);
    const twice = scriptedFetch(networkChanged, networkChanged, answer);
    await expect(send('POST', '/v1/sessions/x/stop', undefined, 't', 1000, true)).rejects.toMatchObject({ code: 'network' });
    expect(twice).toHaveBeenCalledTimes(2);
  });

  it('never sends another POST twice (creating a session, a token refresh)', async () => {
    const fetch = scriptedFetch(networkChanged, answer);
    const failure = send('POST', '/v1/token/refresh', { refresh_token: 'r' });
    await expect(failure).rejects.toBeInstanceOf(ApiError);
    await expect(failure).rejects.toMatchObject({ code: 'network' });
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('does not retry a request that timed out', async () => {
    const fetch = scriptedFetch(() => new DOMException('timed out', 'TimeoutError'), answer);
    await expect(send('GET', '/v1/sessions')).rejects.toMatchObject({ code: 'timeout' });
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});
