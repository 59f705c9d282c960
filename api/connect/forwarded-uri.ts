/**
 * The ForwardAuth check refuses, rather than normalises, a forwarded URI whose path could be
 * read differently by Traefik, the API and xpra: dot segments, encoded dots, separators or
 * percent signs, and backslashes. A legitimate client never sends them (the HTML5 client's
 * paths are plain), so any of them is a probe, and refusing is safer than guessing which reading
 * the next hop will make. The raw string is checked, before URL parsing could clean it up.
 */

/** Encoded `.`, `/`, `\`, `%` (double encoding) and NUL, in either case. */
const ENCODED_FORBIDDEN = /%(?:2e|2f|5c|25|00)/i;

/** Why the raw X-Forwarded-Uri is refused, or null when its path is plain. */
export function unsafeForwardedUri(raw: string): string | null {
  // The path ends at the query or fragment; the token in the query is checked later.
  const end = raw.search(/[?#]/);
  const path = end === -1 ? raw : raw.slice(0, end);
  if (!path.startsWith('/') || path.startsWith('//')) return 'forwarded URI is not an absolute path';
  if (path.includes('\\')) return 'forwarded URI contains a backslash';
  if (ENCODED_FORBIDDEN.test(path)) return 'forwarded URI contains an encoded dot, separator or percent sign';
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) return 'forwarded URI contains a dot segment';
  return null;
}
