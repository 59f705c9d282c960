/**
 * `hackstream://<host>/sessions/<id>` links for the HackStream client. They carry no secret: rows
 * get a plain link without asking for fresh credentials. The API's own prefix is learned from any
 * connect descriptor (create and connect answers) and kept.
 */
const KEY = 'hackstream.appLinkBase';

let base: string | null = null;
try {
  base = localStorage.getItem(KEY);
} catch {
  /* storage unavailable: learn it again in this tab */
}

export function rememberAppLink(sessionId: string, appLink: string): void {
  const suffix = `/sessions/${sessionId}`;
  if (!appLink.endsWith(suffix)) return;
  base = appLink.slice(0, -suffix.length);
  try {
    localStorage.setItem(KEY, base);
  } catch {
    /* kept in memory only */
  }
}

/**
 * The dashboard is served from the API's public origin, which is what the API puts in its links
 * too; a prefix learned from the API wins (a server behind another name).
 */
export function appLinkFor(sessionId: string): string {
  return `${base ?? `hackstream://${location.host}`}/sessions/${encodeURIComponent(sessionId)}`;
}
