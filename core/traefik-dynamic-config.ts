/**
 * Traefik's dynamic configuration: what its file provider reads from the routes directory
 * (HACKSTREAM_ROUTES_DIR). Each process writes only what it owns, so no process describes
 * another:
 *
 * - the API, at start: its own router and service, the ForwardAuth middleware that points
 *   back at it and the headers middleware of sessions' pages (`API_ROUTES_FILE`, `apiRouteConfig`);
 * - every worker, at start: the ingress's TLS certificate (`INGRESS_TLS_FILE`, `ingressTlsConfig`);
 * - the session activities: one file per session (`sessionRouteConfig`).
 *
 * Traefik merges every file of the directory into one configuration; a name defined in two files
 * is kept from the first file (by file name) and skipped, with a warning, in the other. Hence
 * one writer per name. Pure builders only; the writing lives with each process.
 */
import {
  API_JSON_ERRORS_MIDDLEWARE,
  CONNECT_AUTH_MIDDLEWARE,
  CONNECT_AUTH_PATH,
  SESSION_MIDDLEWARES,
  ENTRYPOINT,
  JSON_ERRORS_PLUGIN,
  RESUME_COOKIE,
  SESSION_BUNDLE_CACHE_MIDDLEWARE,
  SESSION_CLIENT_BUNDLE_PATH,
  SESSION_HEADERS_MIDDLEWARE,
  sessionTlsName,
  sessionWebHost,
  sessionWebParent,
  XPRA_SSL_PORT,
  XPRA_WS_PORT,
} from './ingress-names.js';

/** Written by the API. */
export const API_ROUTES_FILE = 'hackstream-api.yml';
/** Written by the workers. */
export const INGRESS_TLS_FILE = 'hackstream-ingress-tls.yml';
/**
 * Written by workers before the API wrote its own file: it defines the API's router and the
 * ForwardAuth middleware too, perhaps with a stale upstream, so workers remove it.
 */
export const LEGACY_INGRESS_FILE = 'hackstream-ingress.yml';

/** What the ingress forwards to the API; a route the public must reach adds its path here. */
export const API_PATH_PREFIXES = ['/v1/', '/apt/', '/docs/', '/ui/'] as const;
export const API_PATHS = ['/health', '/ready', '/ca.pem', '/docs', '/ui'] as const;

const API_ROUTER = 'hackstream-api';

/**
 * Serialised, never templated: one malformed file would freeze all of Traefik's updates. JSON
 * is valid YAML.
 */
export const dynamicConfigText = (config: object): string => `${JSON.stringify(config, null, 2)}\n`;

/**
 * What the HTML5 client's pages (served by xpra, not by the API) can carry without breaking
 * it. No Content-Security-Policy yet: xpra 3.1 sends none (its http-headers file of one is
 * written as `Name: value`, which its parser, reading `name=value`, skips), and one that the
 * client's bundle, inline page script and workers all pass has not been worked out.
 * X-Frame-Options SAMEORIGIN rather than DENY: the client may frame its own pages.
 */
export const SESSION_RESPONSE_HEADERS = {
  contentTypeNosniff: true,
  referrerPolicy: 'no-referrer',
  customFrameOptionsValue: 'SAMEORIGIN',
  // One year, this host only: sessions' native names are not for browsers.
  stsSeconds: 31_536_000,
  stsIncludeSubdomains: false,
} as const;

/** A Go regexp (Traefik's HostRegexp) matching `text` literally. */
const goRegexpLiteral = (text: string): string => text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');

/**
 * The API's rule: its public paths on any host but a session's browser host. Any other host
 * (the public name, an IP address, whatever name a client uses) still reaches it, but on a
 * session's origin `/v1/...` is no route at all: a session's page can reach the API only
 * cross-origin, where CORS keeps it from reading anything.
 */
export function apiRouterRule(domain: string): string {
  const paths = [...API_PATH_PREFIXES.map((p) => `PathPrefix(\`${p}\`)`), ...API_PATHS.map((p) => `Path(\`${p}\`)`)].join(' || ');
  // Case-insensitive, with or without a trailing dot: whatever spelling the client sends.
  const sessionHosts = `(?i)(^|\\.)${goRegexpLiteral(sessionWebParent(domain))}\\.?$`;
  return `(${paths}) && !HostRegexp(\`${sessionHosts}\`)`;
}

/**
 * The middlewares of every session's browser routes, by name (SESSION_MIDDLEWARES): the
 * same on a host (in the API's Traefik file below) and on Kubernetes (Middleware objects in the
 * sessions' namespace, activities/kube-session-objects.ts).
 */
export function sessionMiddlewares(apiUpstream: string): Record<string, object> {
  return {
    [SESSION_MIDDLEWARES.connectAuth]: {
      forwardAuth: {
        address: `${apiUpstream}${CONNECT_AUTH_PATH}`,
        // Only Traefik's own view of the request counts, never headers a client sent.
        trustForwardHeader: false,
        maxResponseBodySize: 4096,
        addAuthCookiesToResponse: [RESUME_COOKIE],
      },
    },
    [SESSION_MIDDLEWARES.sessionHeaders]: { headers: { ...SESSION_RESPONSE_HEADERS } },
    // Private: the bundle is behind the session's sign-in like the rest of its origin. xpra
    // marks every answer uncacheable (its http-headers/00_nocache.txt), and a browser heeds
    // its Pragma and Expires as well: those go (an empty value removes a header).
    [SESSION_MIDDLEWARES.bundleCache]: { headers: { customResponseHeaders: { 'Cache-Control': 'private, max-age=31536000, immutable', Pragma: '', Expires: '' } } },
  };
}

/**
 * The API's router and service with its JSON errors middleware, and the middlewares every
 * session route uses. `retryAfterSeconds`: what the API's own 503s carry, for the ingress's.
 */
export function apiRouteConfig(apiUpstream: string, domain: string, retryAfterSeconds: number): object {
  const [jsonErrorsName] = API_JSON_ERRORS_MIDDLEWARE.split('@');
  const rule = apiRouterRule(domain);
  return {
    http: {
      routers: { [API_ROUTER]: { entryPoints: [ENTRYPOINT], rule, service: API_ROUTER, tls: {}, middlewares: [API_JSON_ERRORS_MIDDLEWARE] } },
      middlewares: {
        // Traefik's own answers when the API process does not (a crash, a restart): JSON as the
        // API's, with the Retry-After of its 503s.
        [jsonErrorsName!]: {
          plugin: {
            [JSON_ERRORS_PLUGIN.name]: {
              code: 'api_unavailable',
              message: 'the HackStream API is not answering; try again in a few seconds',
              retryAfter: retryAfterSeconds,
            },
          },
        },
        ...sessionMiddlewares(apiUpstream),
      },
      services: { [API_ROUTER]: { loadBalancer: { servers: [{ url: apiUpstream }] } } },
    },
  };
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** The ingress's certificate, served for the API and the browser path (and unknown SNI names). */
export function ingressTlsConfig(tls: TlsFiles): object {
  return {
    tls: {
      certificates: [tls],
      stores: { default: { defaultCertificate: tls } },
      options: { default: { minVersion: 'VersionTLS12', sniStrict: false } },
    },
  };
}

export interface RouteTarget {
  sessionId: string;
  containerIp: string;
  /**
   * `host:port` both paths go to instead of the container's own ports: an edge node's tunnel
   * (core/node-tunnel.ts), whose demux on the node routes each connection by its Host or SNI.
   */
  via?: string | undefined;
}

/** How long the ingress keeps an unused connection to a session's xpra open. */
export const SESSION_IDLE_CONNECTION_SECONDS = 5;
/** How Traefik talks to a session's browser port (a ServersTransport's spec, the file's and Kubernetes's). */
export const SESSION_SERVERS_TRANSPORT = { forwardingTimeouts: { idleConnTimeout: `${SESSION_IDLE_CONNECTION_SECONDS}s` } } as const;

const sessionNames = (sessionId: string) => ({
  http: `session-${sessionId}`,
  bundle: `session-${sessionId}-client-bundle`,
  tcp: `session-${sessionId}-native`,
});

/**
 * The rules of a session's routes (Traefik's rule syntax, the same for the file provider and
 * Kubernetes objects): its browser host, the bundled client under it (Traefik orders routers by
 * the length of their rule: this one wins under its prefix), and its native TLS name.
 */
export function sessionRouteRules(sessionId: string, domain: string): { web: string; bundle: string; native: string } {
  const web = `Host(\`${sessionWebHost(sessionId, domain)}\`)`;
  return { web, bundle: `${web} && PathPrefix(\`${SESSION_CLIENT_BUNDLE_PATH}\`)`, native: `HostSNI(\`${sessionTlsName(sessionId, domain)}\`)` };
}

/**
 * The dynamic configuration of one session's two routes: its browser host (the HTML5 client at
 * `/`, its own origin) and its native TLS name (passed through to the session's xpra).
 */
export function sessionRouteConfig(target: RouteTarget, domain: string): object {
  const { sessionId, containerIp, via } = target;
  const n = sessionNames(sessionId);
  const browser = via ?? `${containerIp}:${XPRA_WS_PORT}`;
  const native = via ?? `${containerIp}:${XPRA_SSL_PORT}`;
  const rules = sessionRouteRules(sessionId, domain);
  // Both routers of the browser host: headers first (so refusals carry them too), the ForwardAuth check last.
  const webRouter = (rule: string, ...extraHeaders: string[]) => ({
    entryPoints: [ENTRYPOINT],
    rule,
    middlewares: [SESSION_HEADERS_MIDDLEWARE, ...extraHeaders, CONNECT_AUTH_MIDDLEWARE],
    service: n.http,
    tls: {},
  });
  return {
    http: {
      routers: {
        // The browser host only; the TLS passthrough router below has a name of its own, so
        // neither takes the other's connections.
        [n.http]: webRouter(rules.web),
        // The bundled HTML5 client: the same checks, and kept by the browser for a reconnect.
        [n.bundle]: webRouter(rules.bundle, SESSION_BUNDLE_CACHE_MIDDLEWARE),
      },
      services: { [n.http]: { loadBalancer: { servers: [{ url: `http://${browser}` }], serversTransport: n.http } } },
      // Traefik keeps an idle connection to the backend for 90 s by default after the HTML5
      // client's files are served; the worker's session monitor reads xpra while any connection
      // into the container is open, so idle ones are closed soon after.
      serversTransports: { [n.http]: SESSION_SERVERS_TRANSPORT },
    },
    tcp: {
      routers: {
        [n.tcp]: {
          entryPoints: [ENTRYPOINT],
          rule: rules.native,
          service: n.tcp,
          // The session's own xpra terminates TLS with its own certificate and checks the token.
          tls: { passthrough: true },
        },
      },
      services: { [n.tcp]: { loadBalancer: { servers: [{ address: native }] } } },
    },
  };
}
