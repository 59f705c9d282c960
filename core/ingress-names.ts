/**
 * The names the ingress (Traefik), the API and the workers agree on: where a session's browser
 * path lives, its native TLS name, the ForwardAuth check, the resume cookie, and the ports in a
 * session's container that the ingress forwards to. Traefik's configuration
 * (core/traefik-dynamic-config.ts) is built from them, the API answers on them and puts them in
 * connect descriptors, the session's xpra listens on them; each is defined here only.
 */

/**
 * The host group Traefik runs with (HACKSTREAM_INGRESS_GROUP's default): the host firewall lets
 * only its processes open connections into session networks (activities/session-firewall.ts).
 */
export const INGRESS_GROUP = 'hackstream-ingress';

/** Traefik's HTTPS entrypoint, defined in its static configuration. */
export const ENTRYPOINT = 'websecure';
/**
 * The middlewares of every session's browser routes, by name: in the API's own Traefik file on a
 * host (the `@file` names below), Middleware objects in the sessions' namespace on Kubernetes.
 */
export const SESSION_MIDDLEWARES = {
  /** The ForwardAuth check of the connect token or resume cookie. */
  connectAuth: 'hackstream-connect-auth',
  /** The response headers of the session's origin. */
  sessionHeaders: 'hackstream-session-headers',
  /** Marks the bundled client's files immutable. */
  bundleCache: 'hackstream-session-bundle-cache',
} as const;
/** The ForwardAuth middleware (in the API's own Traefik file) that every session's browser route uses. */
export const CONNECT_AUTH_MIDDLEWARE = `${SESSION_MIDDLEWARES.connectAuth}@file`;
/** The response headers middleware (in the API's own Traefik file) on every session's browser route. */
export const SESSION_HEADERS_MIDDLEWARE = `${SESSION_MIDDLEWARES.sessionHeaders}@file`;
/**
 * Where the session image keeps xpra's HTML5 client bundled (images/session/Dockerfile,
 * `bundle-html5-client.py`): files named by their content's hash, so browsers may keep them.
 */
export const SESSION_CLIENT_BUNDLE_PATH = '/hackstream-client/';
/** The response headers middleware (in the API's own Traefik file) that marks the bundle immutable. */
export const SESSION_BUNDLE_CACHE_MIDDLEWARE = `${SESSION_MIDDLEWARES.bundleCache}@file`;
/**
 * Traefik's local plugin (ingress/plugins-local/src/<module>, interpreted from source by Traefik,
 * which looks for `./plugins-local` in its working directory: stack/lib.sh, docker-compose.yml and
 * the tests start it in `ingress/`) that answers in the API's JSON error model when the API process
 * does not answer, where Traefik would answer in plain text.
 */
export const JSON_ERRORS_PLUGIN = { name: 'hackstream-json-errors', moduleName: 'github.com/hackstream/jsonerrors' } as const;
/** The API router's middleware (in the API's own Traefik file) built on that plugin. */
export const API_JSON_ERRORS_MIDDLEWARE = 'hackstream-api-json-errors@file';
/** Where the API answers Traefik's ForwardAuth calls (not routed by the ingress: loopback only). */
export const CONNECT_AUTH_PATH = '/internal/connect-auth';
/**
 * The browser path's resume cookie. The `__Host-` prefix makes the browser keep it only as set
 * by its session's own host, Secure, with Path=/ and no Domain: no other host, not even one
 * under the same domain, can set or overwrite it.
 */
export const RESUME_COOKIE = '__Host-hs_resume';

/** `<id>.sessions.<domain>`: the name a session's certificate carries and native clients send as SNI. */
export const sessionTlsName = (sessionId: string, domain: string): string => `${sessionId}.sessions.${domain}`;

/** `web.sessions.<domain>`: the parent of every session's browser host. */
export const sessionWebParent = (domain: string): string => `web.sessions.${domain}`;

/**
 * `<id>.web.sessions.<domain>`: the host a session's HTML5 client is served from, at `/`. An
 * origin per session, never the API's: one session's scripts and cookies cannot touch the API
 * or another session (the browser's same-origin policy and host-only cookies). Apart from the
 * native name above because that one is passed through to the session's own TLS.
 */
export const sessionWebHost = (sessionId: string, domain: string): string => `${sessionId}.${sessionWebParent(domain)}`;

/** xpra's websocket in a session's container (the browser path, behind the ForwardAuth check; bound by images/session/entrypoint.sh). */
export const XPRA_WS_PORT = 14500;
/** xpra's TLS socket in a session's container (the native path, passed through by SNI name). */
export const XPRA_SSL_PORT = 14501;
/** Every port a session's xpra listens on: a connection to one of them is a client. */
export const XPRA_PORTS = [XPRA_WS_PORT, XPRA_SSL_PORT] as const;

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The session and xpra port a name asks for (a TLS connection's SNI, an HTTP request's Host):
 * `<id>.web.sessions.<domain>` is its browser path (xpra's websocket), `<id>.sessions.<domain>` its
 * native path (xpra's TLS); anything else is no session's. An edge node's tunnel routes by it.
 */
export function sessionOfName(name: string, domain: string): { sessionId: string; port: (typeof XPRA_PORTS)[number] } | null {
  const host = name.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  for (const [parent, port] of [
    [`.${sessionWebParent(domain)}`, XPRA_WS_PORT],
    [`.sessions.${domain}`, XPRA_SSL_PORT],
  ] as const) {
    if (!host.endsWith(parent.toLowerCase())) continue;
    const id = host.slice(0, -parent.length);
    return SESSION_ID.test(id) ? { sessionId: id, port } : null;
  }
  return null;
}
