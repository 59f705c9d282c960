/**
 * Traefik's ForwardAuth check for the browser path (`https://<id>.web.sessions.<domain>/...`,
 * one origin per session): a request passes with a valid resume cookie for that session, or
 * with a one-time `token` in the query string, which is consumed and exchanged for a resume
 * cookie so that the page's assets, its websocket and reconnects after a network blip need no
 * new token. The session is the one the host names: the host Traefik routed by, which it
 * forwards as X-Forwarded-Host (`trustForwardHeader: false`: never a value the client sent).
 */
import { parseCookie, stringifySetCookie } from 'cookie';
import { RESUME_COOKIE, sessionWebParent } from '../../core/ingress-names.js';
import { sessionIdParam } from '../validation.js';
import type { ConnectCredentials } from '../../core/connect-credentials.js';
import { unsafeForwardedUri } from './forwarded-uri.js';

export type ConnectAuthResult =
  | { allowed: true; sessionId: string; userId: string; setCookie?: string; via: 'token' | 'resume' }
  | { allowed: false; status: 401 | 403; reason: string };

export interface ForwardedRequest {
  /** X-Forwarded-Host: the host (and port) the request was sent to. */
  host: string | undefined;
  /** X-Forwarded-Uri: the original path and query. */
  uri: string | undefined;
  /** Origin, when the browser sent one (websockets, cross-origin and non-GET requests). */
  origin: string | undefined;
  /** Sec-Fetch-Site and Sec-Fetch-Mode, which current browsers send on every request. */
  fetchSite?: string | undefined;
  fetchMode?: string | undefined;
  cookieHeader: string | undefined;
}

export interface ConnectCheckSettings {
  /** HACKSTREAM_DOMAIN: sessions' browser hosts are `<id>.web.sessions.<domain>`. */
  domain: string;
  resumeTtlSeconds: number;
}

/** `https://<host>` as a browser would write its origin, or null when it is not a host. */
function originOfHost(host: string): URL | null {
  if (!host || /[/?#@\\\s,]/.test(host)) return null;
  try {
    return new URL(`https://${host}`);
  } catch {
    return null;
  }
}

/** `<uuid>.web.sessions.<domain>[:port]` → the uuid; any other host → null. */
export function sessionIdFromHost(host: string, domain: string): string | null {
  const url = originOfHost(host);
  if (!url) return null;
  const name = url.hostname.replace(/\.$/, '');
  const parent = `.${sessionWebParent(domain).toLowerCase()}`;
  if (!name.endsWith(parent)) return null;
  const id = name.slice(0, -parent.length);
  return sessionIdParam.safeParse(id).success ? id : null;
}

/**
 * Whether a request with this Origin may reach the session on `host`: without one (the browser
 * sends none on its own navigations and same-origin reads), or from the session's own origin.
 * Sessions' hosts share one site, so SameSite cookies do not keep one session's page from
 * sending another's cookie, and a websocket is not held back by CORS; this is what does.
 */
export function sameOriginOrNone(origin: string | undefined, host: string): boolean {
  if (origin === undefined) return true;
  const own = originOfHost(host);
  try {
    return own !== null && new URL(origin).origin === own.origin;
  } catch {
    // `null` (an opaque origin) and anything malformed
    return false;
  }
}

/**
 * Whether fetch metadata says another page sent this: a GET from another page's script or
 * element carries no Origin, yet the browser attaches this host's cookie when the page is of the
 * same site (every session's page is). Navigations pass: the user opening the session, from
 * anywhere (a frame is refused by the pages' X-Frame-Options). Browsers that send no metadata
 * are left to the Origin check and SameSite.
 */
export function sentByAnotherPage(fetchSite: string | undefined, fetchMode: string | undefined): boolean {
  return (fetchSite === 'same-site' || fetchSite === 'cross-site') && fetchMode !== 'navigate';
}

/** Whether the user may still use the browser path (their account exists and is not disabled). */
export type OwnerCheck = (userId: string) => Promise<boolean>;

const DISABLED_OWNER = { allowed: false, status: 403, reason: "the session owner's account is disabled" } as const;

export async function checkConnect(
  tokens: ConnectCredentials,
  req: ForwardedRequest,
  settings: ConnectCheckSettings,
  ownerActive: OwnerCheck,
): Promise<ConnectAuthResult> {
  // Before parsing: URL would resolve `..` and hide what was asked for.
  const unsafe = unsafeForwardedUri(req.uri ?? '');
  if (unsafe) return { allowed: false, status: 403, reason: unsafe };
  let url: URL;
  try {
    url = new URL(req.uri ?? '', 'https://ingress.invalid');
  } catch {
    return { allowed: false, status: 403, reason: 'malformed forwarded URI' };
  }
  const host = req.host ?? '';
  const sessionId = sessionIdFromHost(host, settings.domain);
  if (!sessionId) return { allowed: false, status: 403, reason: "not a session's host" };
  // Before the token is looked at: another origin's request must not spend it.
  if (!sameOriginOrNone(req.origin, host) || sentByAnotherPage(req.fetchSite, req.fetchMode)) {
    return { allowed: false, status: 403, reason: "a request from another origin than the session's" };
  }

  // Host-only (`__Host-`: no Domain, Path=/), so the browser sends it to this session's host alone.
  const resumeCookie = (value: string) =>
    stringifySetCookie(RESUME_COOKIE, value, {
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      maxAge: settings.resumeTtlSeconds,
    });

  const cookie = parseCookie(req.cookieHeader ?? '')[RESUME_COOKIE];
  if (cookie) {
    const owner = await tokens.checkResume(sessionId, cookie);
    // Renewed in the browser as in Redis: the window slides while the client is in use.
    // Disabling revokes the owner's cookies; this also covers one checked while that runs.
    if (owner && !(await ownerActive(owner.userId))) return DISABLED_OWNER;
    if (owner) return { allowed: true, sessionId, userId: owner.userId, setCookie: resumeCookie(cookie), via: 'resume' };
  }

  const token = url.searchParams.get('token');
  if (!token) return { allowed: false, status: 401, reason: 'a connect token is required' };
  const owner = await tokens.consumeToken(sessionId, token);
  if (!owner) return { allowed: false, status: 401, reason: 'connect token is invalid, expired or already used' };
  if (!(await ownerActive(owner.userId))) return DISABLED_OWNER;

  const resume = await tokens.issueResume(sessionId, owner.userId);
  return { allowed: true, sessionId, userId: owner.userId, setCookie: resumeCookie(resume.value), via: 'token' };
}
