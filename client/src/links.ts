/**
 * hackstream:// links, which a web page or a chat message can carry and the desktop hands to
 * `hackstream open`. They name a server and what to do, never a secret:
 *   hackstream://<host[:port]>/sessions/<session id>   attach to that session
 *   hackstream://<host[:port]>/launch?url=<url>[&quality=low|auto|high]   start a session
 * Anyone can make a link, so the client asks first when it names a server the person has not
 * configured, and always before a launch (it spends the person's quota).
 */
import { usageError } from './client-error.js';
import { parseQuality, type Quality } from './settings.js';

export type LinkAction = { kind: 'attach'; sessionId: string } | { kind: 'launch'; url?: string; quality?: Quality };

export interface HackstreamLink {
  /** The server's https origin. */
  server: string;
  action: LinkAction;
}

export const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function parseLink(raw: string): HackstreamLink {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`"${raw}" is not a hackstream:// link`);
  }
  if (url.protocol !== 'hackstream:') throw usageError(`"${raw}" is not a hackstream:// link`);
  if (!url.hostname || url.username || url.password) throw usageError(`the link "${raw}" names no server (hackstream://<server>/…)`);
  let server: string;
  try {
    server = new URL(`https://${url.host}`).origin;
  } catch {
    throw usageError(`the link "${raw}" names no valid server (hackstream://<server>/…)`);
  }
  const attach = /^\/sessions\/([^/]+)\/?$/.exec(url.pathname);
  if (attach) {
    let sessionId = '';
    try {
      sessionId = decodeURIComponent(attach[1]!).toLowerCase();
    } catch {
      // malformed percent-encoding: not a session id (below)
    }
    if (!SESSION_ID.test(sessionId)) throw usageError(`the link's session id "${attach[1]}" is not a session id`);
    return { server, action: { kind: 'attach', sessionId } };
  }
  if (/^\/launch\/?$/.test(url.pathname)) {
    const target = url.searchParams.get('url') ?? undefined;
    if (target !== undefined && !/^https?:\/\//i.test(target)) throw usageError(`the link's url "${target}" is not an http(s) URL`);
    const quality = url.searchParams.get('quality');
    return { server, action: { kind: 'launch', url: target, quality: quality ? parseQuality(quality) : undefined } };
  }
  throw usageError(`the link "${raw}" asks for nothing this client knows (/sessions/<id> or /launch?url=…)`);
}

/** The questions to ask before acting on `link` (none: act at once). */
export function confirmationsFor(link: HackstreamLink, configuredServer: string | undefined): string[] {
  const questions: string[] = [];
  if (link.server !== configuredServer) {
    questions.push(`This link is for the HackStream server ${link.server}, which is not the one this device is set up for${configuredServer ? ` (${configuredServer})` : ''}. Connect to it?`);
  }
  if (link.action.kind === 'launch') {
    questions.push(`Start a new remote Firefox${link.action.url ? ` on ${link.action.url}` : ''}? It counts against your session quota.`);
  }
  return questions;
}
