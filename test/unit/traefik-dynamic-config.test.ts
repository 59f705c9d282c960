/**
 * Traefik's dynamic configuration and who writes which file of the routes directory: the API its
 * router and the ForwardAuth middleware, the workers the ingress certificate (and no longer the
 * API's router), the activities one file per session.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileCertificateAuthority } from '../../core/certificate-authority.js';
import { RETRY_AFTER_SECONDS } from '../../api/http-error.js';
import { publishApiRoutes } from '../../api/ingress-routes.js';
import {
  API_JSON_ERRORS_MIDDLEWARE,
  CONNECT_AUTH_MIDDLEWARE,
  CONNECT_AUTH_PATH,
  ENTRYPOINT,
  JSON_ERRORS_PLUGIN,
  RESUME_COOKIE,
  SESSION_BUNDLE_CACHE_MIDDLEWARE,
  SESSION_CLIENT_BUNDLE_PATH,
  SESSION_HEADERS_MIDDLEWARE,
  XPRA_SSL_PORT,
  XPRA_WS_PORT,
} from '../../core/ingress-names.js';
import { createLogger } from '../../core/logger.js';
import {
  API_ROUTES_FILE,
  apiRouteConfig,
  apiRouterRule,
  INGRESS_TLS_FILE,
  ingressTlsConfig,
  LEGACY_INGRESS_FILE,
  sessionRouteConfig,
} from '../../core/traefik-dynamic-config.js';
import { caPermittedNames, prepareIngress } from '../../worker/ingress-setup.js';

const upstream = 'http://127.0.0.1:18080';
const domain = 'hackstream.test';
const logger = createLogger({ level: 'error', service: 'test', json: false });
const tmp = mkdtempSync(path.join(os.tmpdir(), 'hs-dynamic-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every router, middleware and service name a configuration defines, as `kind/name`. */
const definedNames = (config: any): string[] =>
  ['http', 'tcp'].flatMap((proto) => ['routers', 'middlewares', 'services'].flatMap((kind) => Object.keys(config[proto]?.[kind] ?? {}).map((n) => `${proto}.${kind}/${n}`)));

describe("the API's router and ForwardAuth middleware", () => {
  const config: any = apiRouteConfig(upstream, domain, RETRY_AFTER_SECONDS);
  const router = config.http.routers['hackstream-api'];

  it("route the public API paths over TLS to the API, on any host but a session's browser host, and nothing else", () => {
    expect(router).toMatchObject({ entryPoints: [ENTRYPOINT], service: 'hackstream-api', tls: {}, middlewares: [API_JSON_ERRORS_MIDDLEWARE] });
    expect(router.rule).toBe(
      '(PathPrefix(`/v1/`) || PathPrefix(`/apt/`) || PathPrefix(`/docs/`) || PathPrefix(`/ui/`) || Path(`/health`) || Path(`/ready`) || Path(`/ca.pem`) || Path(`/docs`) || Path(`/ui`)) && ' +
        '!HostRegexp(`(?i)(^|\\.)web\\.sessions\\.hackstream\\.test\\.?$`)',
    );
    expect(router.rule).not.toContain('/metrics');
    expect(router.rule).not.toContain(CONNECT_AUTH_PATH);
    expect(config.http.services['hackstream-api']).toEqual({ loadBalancer: { servers: [{ url: upstream }] } });
  });

  it("define the middleware sessions' routes name, asking the API's check and passing on only the resume cookie", () => {
    const [name, provider] = CONNECT_AUTH_MIDDLEWARE.split('@');
    expect(provider).toBe('file');
    expect(config.http.middlewares[name!].forwardAuth).toEqual({
      address: `${upstream}${CONNECT_AUTH_PATH}`,
      trustForwardHeader: false,
      maxResponseBodySize: 4096,
      addAuthCookiesToResponse: [RESUME_COOKIE],
    });
  });

  it("answer in the API's JSON error model, with its Retry-After, when the API does not answer (the ingress's plugin)", () => {
    const [name, provider] = API_JSON_ERRORS_MIDDLEWARE.split('@');
    expect(provider).toBe('file');
    expect(config.http.middlewares[name!].plugin).toEqual({
      [JSON_ERRORS_PLUGIN.name]: { code: 'api_unavailable', message: expect.stringContaining('not answering'), retryAfter: RETRY_AFTER_SECONDS },
    });
  });

  it("define the security headers sessions' pages carry, without a CSP that would replace xpra's", () => {
    const [name, provider] = SESSION_HEADERS_MIDDLEWARE.split('@');
    expect(provider).toBe('file');
    expect(config.http.middlewares[name!].headers).toEqual({
      contentTypeNosniff: true,
      referrerPolicy: 'no-referrer',
      customFrameOptionsValue: 'SAMEORIGIN',
      stsSeconds: 31_536_000,
      stsIncludeSubdomains: false,
    });
  });
});

describe('the ingress certificate', () => {
  it('is the default certificate, TLS 1.2 at least, and defines no routes', () => {
    const files = { certFile: '/x/cert.pem', keyFile: '/x/key.pem' };
    const config: any = ingressTlsConfig(files);
    expect(config.tls.certificates).toEqual([files]);
    expect(config.tls.stores.default.defaultCertificate).toEqual(files);
    expect(config.tls.options.default.minVersion).toBe('VersionTLS12');
    expect(definedNames(config)).toEqual([]);
  });
});

describe("the API router's rule", () => {
  /** The host part of the rule, as Go's regexp (RE2) reads it: JavaScript's agrees on this syntax. */
  const hostPattern = (d: string) => {
    const [, inner] = /!HostRegexp\(`\(\?i\)(.*)`\)$/.exec(apiRouterRule(d))!;
    return new RegExp(inner!, 'i');
  };

  it.each(['s1.web.sessions.hackstream.test', 'S1.WEB.Sessions.hackstream.test.', 'a.b.web.sessions.hackstream.test', 'web.sessions.hackstream.test'])(
    'keeps the API off the session host %s',
    (host) => expect(hostPattern(domain).test(host)).toBe(true),
  );

  it.each(['localhost', '127.0.0.1', 'hackstream.test', 's1.sessions.hackstream.test', 'hs.example.org', 'xweb.sessions.hackstream.test', 's1.web.sessions.hackstream.test.evil', 's1.web.sessions.hackstreamxtest'])(
    'lets the API answer on %s',
    (host) => expect(hostPattern(domain).test(host)).toBe(false),
  );

  it('quotes the domain, whatever it holds', () => {
    expect(hostPattern('a+b.example').test('s1.web.sessions.aab.example')).toBe(false);
    expect(hostPattern('a+b.example').test('s1.web.sessions.a+b.example')).toBe(true);
  });
});

describe("a session's routes", () => {
  const config: any = sessionRouteConfig({ sessionId: 's1', containerIp: '10.213.0.2' }, domain);

  it('send its browser host, at /, through the ForwardAuth check to xpra, and the native path by SNI name', () => {
    expect(config.http.routers['session-s1']).toEqual({
      entryPoints: [ENTRYPOINT],
      rule: 'Host(`s1.web.sessions.hackstream.test`)',
      middlewares: [SESSION_HEADERS_MIDDLEWARE, CONNECT_AUTH_MIDDLEWARE],
      service: 'session-s1',
      tls: {},
    });
    expect(config.http.middlewares).toBeUndefined();
    expect(config.http.services['session-s1'].loadBalancer.servers).toEqual([{ url: `http://10.213.0.2:${XPRA_WS_PORT}` }]);
    // Idle connections to xpra closed after a few seconds, not Traefik's 90 (the session monitor reads xpra while one is open).
    expect(config.http.serversTransports[config.http.services['session-s1'].loadBalancer.serversTransport].forwardingTimeouts).toEqual({ idleConnTimeout: '5s' });
    expect(config.tcp.routers['session-s1-native']).toMatchObject({ rule: 'HostSNI(`s1.sessions.hackstream.test`)', tls: { passthrough: true } });
    expect(config.tcp.services['session-s1-native'].loadBalancer.servers).toEqual([{ address: `10.213.0.2:${XPRA_SSL_PORT}` }]);
  });

  it('send both paths of a session on an edge node to its tunnel, with the same routers and checks', () => {
    const edge: any = sessionRouteConfig({ sessionId: 's1', containerIp: '10.213.0.2', via: '127.0.0.1:17002' }, domain);
    expect(edge.http.services['session-s1'].loadBalancer.servers).toEqual([{ url: 'http://127.0.0.1:17002' }]);
    expect(edge.tcp.services['session-s1-native'].loadBalancer.servers).toEqual([{ address: '127.0.0.1:17002' }]);
    expect(edge.http.routers).toEqual(config.http.routers);
    expect(edge.tcp.routers).toEqual(config.tcp.routers);
    // A transport of its own per session: the ingress never reuses one session's connection for another's.
    expect(edge.http.services['session-s1'].loadBalancer.serversTransport).toBe('session-s1');
  });

  it('send the bundled HTML5 client through the same checks, marked immutable by a middleware of the API file', () => {
    expect(config.http.routers['session-s1-client-bundle']).toEqual({
      entryPoints: [ENTRYPOINT],
      rule: `Host(\`s1.web.sessions.hackstream.test\`) && PathPrefix(\`${SESSION_CLIENT_BUNDLE_PATH}\`)`,
      middlewares: [SESSION_HEADERS_MIDDLEWARE, SESSION_BUNDLE_CACHE_MIDDLEWARE, CONNECT_AUTH_MIDDLEWARE],
      service: 'session-s1',
      tls: {},
    });
    const api: any = apiRouteConfig(upstream, domain, RETRY_AFTER_SECONDS);
    expect(api.http.middlewares[SESSION_BUNDLE_CACHE_MIDDLEWARE.split('@')[0]!].headers.customResponseHeaders).toEqual({
      'Cache-Control': 'private, max-age=31536000, immutable',
      Pragma: '',
      Expires: '',
    });
  });

  it("share no name with the API's file (Traefik would keep only one of them)", () => {
    const api = definedNames(apiRouteConfig(upstream, domain, RETRY_AFTER_SECONDS));
    expect(definedNames(config).filter((n) => api.includes(n))).toEqual([]);
  });
});

describe('the ingress certificate, as the workers issue it', () => {
  const dir = path.join(tmp, 'names');
  const ingress = { routesDir: path.join(dir, 'dynamic'), tlsDir: path.join(dir, 'tls'), publicHost: 'ingress.example.net', domain } as any;
  const caFile = path.join(dir, 'ca', 'ca.pem');
  const certFile = path.join(ingress.tlsDir, 'ingress-cert.pem');
  const sessionHost = `${randomUUID()}.web.sessions.${domain}`;
  /** `openssl verify` for a host name: the chain, the purpose, the CA's name constraints and the name. */
  const verifyFor = (host: string) =>
    spawnSync('openssl', ['verify', '-CAfile', caFile, '-purpose', 'sslserver', '-verify_hostname', host, certFile], { encoding: 'utf8' });

  it("covers every session's browser host with one wildcard, within the CA's name constraints", async () => {
    const ca = new FileCertificateAuthority(caFile, path.join(dir, 'ca', 'ca-key.pem'), caPermittedNames(ingress));
    await ca.ensure();
    await prepareIngress(ca, ingress, logger);
    const cert = new X509Certificate(readFileSync(certFile));
    expect(cert.subjectAltName).toContain(`DNS:*.web.sessions.${domain}`);
    // The constraints list no wildcard: the domain already admits its subdomains.
    expect(JSON.stringify(caPermittedNames(ingress))).not.toContain('*');
    for (const host of [sessionHost, 'ingress.example.net', domain, 'localhost']) {
      const out = verifyFor(host);
      expect(`${out.stdout}${out.stderr}`.trim(), host).toBe(`${certFile}: OK`);
    }
    // The wildcard stands for one label: not the native names, not deeper ones.
    for (const host of [`x.sessions.${domain}`, `a.${sessionHost}`, `web.sessions.${domain}`]) expect(verifyFor(host).status, host).not.toBe(0);
  });

  it('is issued again when it lacks the browser hosts (one from before them)', async () => {
    const ca = new FileCertificateAuthority(caFile, path.join(dir, 'ca', 'ca-key.pem'), caPermittedNames(ingress));
    const old = await ca.issueServerCertificate({ commonName: domain, dnsNames: ['ingress.example.net', domain, 'localhost'], ipAddresses: ['127.0.0.1'], lifetimeSeconds: 90 * 86_400 });
    writeFileSync(certFile, old.certPem);
    await prepareIngress(ca, ingress, logger);
    expect(new X509Certificate(readFileSync(certFile)).checkHost(sessionHost)).toBe(`*.web.sessions.${domain}`);
    // And left alone once it has them.
    const current = readFileSync(certFile, 'utf8');
    await prepareIngress(ca, ingress, logger);
    expect(readFileSync(certFile, 'utf8')).toBe(current);
  });
});

describe('the files', () => {
  it('have names of their own, none taken for a session file', () => {
    const names = [API_ROUTES_FILE, INGRESS_TLS_FILE, LEGACY_INGRESS_FILE];
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^hackstream-.*\.yml$/);
  });

  it("are the API's to write for its router, once per content", async () => {
    const routesDir = path.join(tmp, 'api', 'dynamic');
    await publishApiRoutes({ routesDir, apiUpstream: upstream, domain }, logger);
    const file = path.join(routesDir, API_ROUTES_FILE);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(apiRouteConfig(upstream, domain, RETRY_AFTER_SECONDS));
    const first = statSync(file);
    await publishApiRoutes({ routesDir, apiUpstream: upstream, domain }, logger);
    expect(statSync(file).ino).toBe(first.ino);
    await publishApiRoutes({ routesDir, apiUpstream: 'http://127.0.0.1:18081', domain }, logger);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(apiRouteConfig('http://127.0.0.1:18081', domain, RETRY_AFTER_SECONDS));
    expect(readdirSync(routesDir)).toEqual([API_ROUTES_FILE]);
  });

  it("are the workers' to write for the certificate only, removing the file that held the API's router", async () => {
    const dir = path.join(tmp, 'worker');
    const ingress = { routesDir: path.join(dir, 'dynamic'), tlsDir: path.join(dir, 'tls'), publicHost: 'localhost', domain: 'hackstream.test' } as any;
    const ca = new FileCertificateAuthority(path.join(dir, 'ca', 'ca.pem'), path.join(dir, 'ca', 'ca-key.pem'), caPermittedNames(ingress));
    await ca.ensure();
    await prepareIngress(ca, ingress, logger);
    writeFileSync(path.join(ingress.routesDir, LEGACY_INGRESS_FILE), JSON.stringify(apiRouteConfig(upstream, domain, RETRY_AFTER_SECONDS)));
    await prepareIngress(ca, ingress, logger);
    expect(readdirSync(ingress.routesDir)).toEqual([INGRESS_TLS_FILE]);
    const config = JSON.parse(readFileSync(path.join(ingress.routesDir, INGRESS_TLS_FILE), 'utf8'));
    expect(config).toEqual(ingressTlsConfig({ certFile: path.join(ingress.tlsDir, 'ingress-cert.pem'), keyFile: path.join(ingress.tlsDir, 'ingress-key.pem') }));
    expect(existsSync(config.tls.certificates[0].certFile)).toBe(true);
  });
});
