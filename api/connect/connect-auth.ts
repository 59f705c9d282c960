/**
 * Traefik's ForwardAuth check for the browser path (`/sessions/<id>/...`): a request passes
 * with a valid resume cookie for that session, or with a one-time `token` in the query string,
 * which is consumed and exchanged for a resume cookie so that the page's assets, its websocket
 * and reconnects after a network blip need no new token.
 */
import { parseCookie, stringifySetCookie } from 'cookie';
import { RESUME_COOKIE, SESSION_PATH_PREFIX, sessionPath } from '../../core/ingress-names.js';
import { sessionIdParam } from '../validation.js';
import type { ConnectCredentials } from '../../core/connect-credentials.js';
import { unsafeForwardedUri } from './forwarded-uri.js';

export type ConnectAuthResult =
  | { allowed: true; sessionId: string; userId: string; setCookie?: string; via: 'token' | 'resume' }
  | { allowed: false; status: 401 | 403; reason: string };

export interface ForwardedRequest {
  /** X-Forwarded-Uri: the original path and query. */
  uri: string | undefined;
  cookieHeader: string | undefined;
}

/** `/sessions/<uuid>/…` → the uuid; anything else → null. */
export function sessionIdFromPath(pathname: string): string | null {
  if (!pathname.startsWith(SESSION_PATH_PREFIX)) return null;
  const id = pathname.slice(SESSION_PATH_PREFIX.length).split('/')[0] ?? '';
  return sessionIdParam.safeParse(id).success ? id.toLowerCase() : null;
}

/** Whether the user may still use the browser path (their account exists and is not disabled). */
export type OwnerCheck = (userId: string) => Promise<boolean>;

const DISABLED_OWNER = { allowed: false, status: 403, reason: "the session owner's account is disabled" } as const;

export async function checkConnect(
  tokens: ConnectCredentials,
  req: ForwardedRequest,
  resumeTtlSeconds: number,
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
  const sessionId = sessionIdFromPath(url.pathname);
  if (!sessionId) return { allowed: false, status: 403, reason: 'not a session path' };

  // Scoped to the session's path, so the browser never sends it to another session.
  const resumeCookie = (value: string) =>
    stringifySetCookie(RESUME_COOKIE, value, {
      path: `${sessionPath(sessionId)}/`,
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      maxAge: resumeTtlSeconds,
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
