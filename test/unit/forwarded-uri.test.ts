/** The ForwardAuth check's first step: a forwarded URI whose path could be read two ways is refused. */
import { describe, expect, it } from 'vitest';
import { checkConnect } from '../../api/connect/connect-auth.js';
import { unsafeForwardedUri } from '../../api/connect/forwarded-uri.js';
import type { ConnectCredentials } from '../../core/connect-credentials.js';
import { RESUME_COOKIE } from '../../core/ingress-names.js';

const id = '7f1d0a4e-3c55-4b2e-9c1e-2a9b8c7d6e5f';
const base = `/sessions/${id}`;

describe('unsafeForwardedUri', () => {
  it.each([
    `${base}/`,
    `${base}/index.html?token=abc_-DEF`,
    `${base}/js/Client.js`,
    `${base}/.well-known/x`,
    `${base}/file..name.js`,
    // The query is not a path: an encoded slash there is the token's business.
    `${base}/?next=%2Fa%2F..`,
  ])('lets a plain path through: %s', (uri) => {
    expect(unsafeForwardedUri(uri)).toBeNull();
  });

  it.each([
    ['/./', `${base}/./index.html`, /dot segment/],
    ['/../', `${base}/../other/`, /dot segment/],
    ['trailing /..', `${base}/js/..`, /dot segment/],
    ['trailing /.', `${base}/.`, /dot segment/],
    ['..  before the query', `${base}/..?token=x`, /dot segment/],
    ['%2e', `${base}/%2e/index.html`, /encoded/],
    ['%2E%2E', `${base}/%2E%2E/x`, /encoded/],
    ['.%2e', `${base}/.%2e/x`, /encoded/],
    ['%2f', `${base}%2f..%2fother/`, /encoded/],
    ['%2F', `${base}/a%2Fb`, /encoded/],
    ['%5c', `${base}/a%5cb`, /encoded/],
    ['%5C', `${base}/a%5Cb`, /encoded/],
    ['double encoding', `${base}/%252e%252e/`, /encoded/],
    ['backslash', `${base}/a\\..\\b`, /backslash/],
    ['backslash alone', `${base}\\`, /backslash/],
    ['not a path', `https://evil.example${base}/`, /absolute path/],
    ['protocol-relative', `//evil.example${base}/`, /absolute path/],
    ['empty', '', /absolute path/],
  ])('refuses %s', (_name, uri, reason) => {
    expect(unsafeForwardedUri(uri)).toMatch(reason);
  });
});

const active = async () => true;

describe('checkConnect', () => {
  it('refuses before looking at the token, so a token in a refused URI is not consumed', async () => {
    const used: string[] = [];
    const tokens = {
      consumeToken: async (_s: string, token: string) => (used.push(token), { userId: 'u' }),
      checkResume: async () => null,
      issueResume: async () => ({ value: 'r' }),
    } as unknown as ConnectCredentials;
    const result = await checkConnect(tokens, { uri: `${base}/x/../?token=secret`, cookieHeader: undefined }, 60, active);
    expect(result).toEqual({ allowed: false, status: 403, reason: expect.stringMatching(/dot segment/) });
    expect(used).toEqual([]);
    // The same token through a plain path is what the fake lets through: the refusal above was the path's.
    expect((await checkConnect(tokens, { uri: `${base}/?token=secret`, cookieHeader: undefined }, 60, active)).allowed).toBe(true);
  });

  it("refuses a valid cookie or token whose owner's account is disabled", async () => {
    const tokens = {
      consumeToken: async () => ({ userId: 'u' }),
      checkResume: async () => ({ userId: 'u' }),
      issueResume: async () => ({ value: 'r' }),
    } as unknown as ConnectCredentials;
    const disabled = async (userId: string) => userId !== 'u';
    const refused = { allowed: false, status: 403, reason: "the session owner's account is disabled" };
    expect(await checkConnect(tokens, { uri: `${base}/`, cookieHeader: `${RESUME_COOKIE}=c` }, 60, disabled)).toEqual(refused);
    expect(await checkConnect(tokens, { uri: `${base}/?token=t`, cookieHeader: undefined }, 60, disabled)).toEqual(refused);
    expect((await checkConnect(tokens, { uri: `${base}/`, cookieHeader: `${RESUME_COOKIE}=c` }, 60, active)).allowed).toBe(true);
  });
});
