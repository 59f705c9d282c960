/**
 * The ForwardAuth check: a forwarded URI whose path could be read two ways is refused; the
 * session is the one its host names; a request from another origin never reaches it; the resume
 * cookie is host-only.
 */
import { describe, expect, it } from 'vitest';
import { checkConnect, sameOriginOrNone, sentByAnotherPage, sessionIdFromHost } from '../../api/connect/connect-auth.js';
import { unsafeForwardedUri } from '../../api/connect/forwarded-uri.js';
import type { ConnectCredentials } from '../../core/connect-credentials.js';
import { RESUME_COOKIE } from '../../core/ingress-names.js';

const id = '7f1d0a4e-3c55-4b2e-9c1e-2a9b8c7d6e5f';
const other = '0b5e0c3a-9a51-4d8e-8f0e-6c2d1e4b3a29';
const domain = 'hackstream.test';
const host = `${id}.web.sessions.${domain}:8443`;
/** Paths are the HTML5 client's own, at the root of its host. */
const base = '';
const settings = { domain, resumeTtlSeconds: 60 };
/** What Traefik forwards for a request to the session's host. */
const forwarded = (uri: string, more: { cookieHeader?: string; origin?: string; host?: string; fetchSite?: string; fetchMode?: string } = {}) => ({ host, origin: undefined, cookieHeader: undefined, uri, ...more });

describe('unsafeForwardedUri', () => {
  it.each([
    `${base}/`,
    `/sessions/${id}/`,
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
    ['%2f', `/js%2f..%2fother/`, /encoded/],
    ['%2F', `${base}/a%2Fb`, /encoded/],
    ['%5c', `${base}/a%5cb`, /encoded/],
    ['%5C', `${base}/a%5Cb`, /encoded/],
    ['double encoding', `${base}/%252e%252e/`, /encoded/],
    ['backslash', `${base}/a\\..\\b`, /backslash/],
    ['backslash alone', `/js\\`, /backslash/],
    ['not a path', `https://evil.example${base}/`, /absolute path/],
    ['not a path, to another session', `https://${other}.web.sessions.${domain}/`, /absolute path/],
    ['protocol-relative', `//evil.example${base}/`, /absolute path/],
    ['empty', '', /absolute path/],
  ])('refuses %s', (_name, uri, reason) => {
    expect(unsafeForwardedUri(uri)).toMatch(reason);
  });
});

describe('sessionIdFromHost', () => {
  it.each([
    [`${id}.web.sessions.${domain}`, id],
    [`${id}.web.sessions.${domain}:8443`, id],
    [`${id.toUpperCase()}.WEB.sessions.${domain}.:443`, id],
  ])('reads the session from %s', (h, expected) => expect(sessionIdFromHost(h, domain)).toBe(expected));

  it.each([
    ['the API', 'localhost:8443'],
    ['the native name', `${id}.sessions.${domain}`],
    ['another domain', `${id}.web.sessions.evil.example`],
    ['a suffix of the domain', `${id}.web.sessions.${domain}.evil.example`],
    ['a deeper name', `x.${id}.web.sessions.${domain}`],
    ['a label that is no session id', `nope.web.sessions.${domain}`],
    ['credentials', `a@${id}.web.sessions.${domain}`],
    ['two hosts', `${id}.web.sessions.${domain}, ${other}.web.sessions.${domain}`],
    ['a path', `${id}.web.sessions.${domain}/x`],
    ['nothing', ''],
  ])('refuses %s', (_name, h) => expect(sessionIdFromHost(h, domain)).toBeNull());
});

describe('sameOriginOrNone', () => {
  it('lets through no Origin, or the session host\'s own', () => {
    expect(sameOriginOrNone(undefined, host)).toBe(true);
    expect(sameOriginOrNone(`https://${host}`, host)).toBe(true);
    expect(sameOriginOrNone(`https://${id}.web.sessions.${domain}`, `${id}.web.sessions.${domain}:443`)).toBe(true);
  });

  it.each([
    ['another session', `https://${other}.web.sessions.${domain}:8443`],
    ['the API', 'https://localhost:8443'],
    ['another port', `https://${id}.web.sessions.${domain}:9443`],
    ['plain HTTP', `http://${host}`],
    ['an opaque origin', 'null'],
    ['garbage', '%%%'],
  ])('refuses %s', (_name, origin) => expect(sameOriginOrNone(origin, host)).toBe(false));
});

describe('sentByAnotherPage', () => {
  it.each([
    ['a same-origin read (the client itself)', 'same-origin', 'cors', false],
    ['a navigation from another site (a link, the dashboard)', 'cross-site', 'navigate', false],
    ['a navigation typed or opened by the user', 'none', 'navigate', false],
    ['a browser that sends no metadata', undefined, undefined, false],
    ["another session's page, no-cors", 'same-site', 'no-cors', true],
    ["another session's page, cors", 'same-site', 'cors', true],
    ['another site, no-cors', 'cross-site', 'no-cors', true],
    ['another site, websocket', 'cross-site', 'websocket', true],
  ])('%s', (_name, site, mode, refused) => expect(sentByAnotherPage(site, mode)).toBe(refused));
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
    const result = await checkConnect(tokens, forwarded(`${base}/x/../?token=secret`), settings, active);
    expect(result).toEqual({ allowed: false, status: 403, reason: expect.stringMatching(/dot segment/) });
    expect(used).toEqual([]);
    // The same token through a plain path is what the fake lets through: the refusal above was the path's.
    expect((await checkConnect(tokens, forwarded(`${base}/?token=secret`), settings, active)).allowed).toBe(true);
  });

  it("refuses a valid cookie or token whose owner's account is disabled", async () => {
    const tokens = {
      consumeToken: async () => ({ userId: 'u' }),
      checkResume: async () => ({ userId: 'u' }),
      issueResume: async () => ({ value: 'r' }),
    } as unknown as ConnectCredentials;
    const disabled = async (userId: string) => userId !== 'u';
    const refused = { allowed: false, status: 403, reason: "the session owner's account is disabled" };
    expect(await checkConnect(tokens, forwarded(`${base}/`, { cookieHeader: `${RESUME_COOKIE}=c` }), settings, disabled)).toEqual(refused);
    expect(await checkConnect(tokens, forwarded(`${base}/?token=t`), settings, disabled)).toEqual(refused);
    expect((await checkConnect(tokens, forwarded(`${base}/`, { cookieHeader: `${RESUME_COOKIE}=c` }), settings, active)).allowed).toBe(true);
  });

  const recording = () => {
    const asked: string[] = [];
    const tokens = {
      consumeToken: async (sessionId: string, token: string) => (asked.push(`token ${sessionId} ${token}`), { userId: 'u' }),
      checkResume: async (sessionId: string, value: string) => (asked.push(`resume ${sessionId} ${value}`), { userId: 'u' }),
      issueResume: async () => ({ value: 'r' }),
    } as unknown as ConnectCredentials;
    return { tokens, asked };
  };

  it("checks the credentials against the session its host names, whatever the path says", async () => {
    const { tokens, asked } = recording();
    expect(await checkConnect(tokens, forwarded(`/sessions/${other}/?token=t`), settings, active)).toMatchObject({ allowed: true, sessionId: id });
    expect(asked).toEqual([`token ${id} t`]);
  });

  it('refuses a host that names no session, before looking at any credential', async () => {
    const { tokens, asked } = recording();
    for (const h of ['localhost:8443', `${id}.sessions.${domain}`, `${id}.web.sessions.evil.example`, undefined]) {
      const result = await checkConnect(tokens, forwarded('/?token=t', { host: h, cookieHeader: `${RESUME_COOKIE}=c` }), settings, active);
      expect(result, String(h)).toEqual({ allowed: false, status: 403, reason: "not a session's host" });
    }
    expect(asked).toEqual([]);
  });

  it('refuses a request from another origin, so its token is not spent nor its cookie used', async () => {
    const { tokens, asked } = recording();
    const fromOther = { origin: `https://${other}.web.sessions.${domain}:8443`, cookieHeader: `${RESUME_COOKIE}=c` };
    expect(await checkConnect(tokens, forwarded('/?token=t', fromOther), settings, active)).toMatchObject({ allowed: false, status: 403 });
    expect(asked).toEqual([]);
    // Nor one with no Origin that fetch metadata shows came from another session's page.
    expect(await checkConnect(tokens, forwarded('/', { cookieHeader: `${RESUME_COOKIE}=c`, fetchSite: 'same-site', fetchMode: 'no-cors' }), settings, active)).toMatchObject({ allowed: false, status: 403 });
    expect(asked).toEqual([]);
    // The same from the session's own page (its websocket sends its Origin) passes.
    expect((await checkConnect(tokens, forwarded('/', { ...fromOther, origin: `https://${host}` }), settings, active)).allowed).toBe(true);
  });

  it('hands out a host-only resume cookie: __Host-, Path=/, no Domain, HttpOnly, Secure, SameSite=Strict', async () => {
    const { tokens } = recording();
    const result = await checkConnect(tokens, forwarded('/?token=t'), settings, active);
    expect(result.allowed && result.setCookie).toBe('__Host-hs_resume=r; Max-Age=60; Path=/; HttpOnly; Secure; SameSite=Strict');
  });
});
