/**
 * An edge node's data tunnel, against the real API (its database and node CA), a node gateway
 * with its real tunnel sshd (OpenSSH), and the node's real `ssh` and `openssl`: nodes enrolled and
 * approved with the real command are told their tunnel with their certificate; a node's tunnel
 * carries the ingress's connections (TLS by its server name, HTTP by its Host) from its port on
 * the control host's loopback to the sessions its demux knows, and nothing else; another node's
 * key cannot take that port; a revoked node's tunnel ends within seconds and cannot come back.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sessionTlsName, sessionWebHost, XPRA_SSL_PORT, XPRA_WS_PORT } from '../../core/ingress-names.js';
import { createLogger } from '../../core/logger.js';
import { nodeCertificateAuthority } from '../../core/node-identity.js';
import { NodeRegistry } from '../../core/node-registry.js';
import { TunnelHostKey } from '../../core/node-tunnel.js';
import { FileCertificateAuthority } from '../../core/certificate-authority.js';
import { TraefikFileRoutes } from '../../activities/traefik-routes.js';
import { httpsRequest } from '../support/https-client.js';
import { admitsNode, gatewayCredentials } from '../../node-gateway/gateway-admission.js';
import { NodeGateway } from '../../node-gateway/node-gateway.js';
import { TunnelSshd } from '../../node-gateway/tunnel-sshd.js';
import { nodeFiles, type GatewayInfo } from '../../worker/node-enrolment.js';
import { NodeTunnel, tunnelCommand, tunnelOf, type TunnelledGateway } from '../../worker/node-tunnel.js';
import { SessionDemux } from '../../worker/session-demux.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { nodeEnroller, type NodeEnroller } from '../support/enrolled-node.js';
import { freePort } from '../support/ports.js';
import { collectOutput } from '../support/process-output.js';
import { until } from '../support/until.js';

const logger = createLogger({ level: 'warn', service: 'node-tunnel-test', json: false });
/** The fake sessions' "containers" listen on this loopback address, on xpra's two ports. */
const SESSION_ADDRESS = '127.0.0.2';

let t: ApiUnderTest;
let admin: { token: string };
let enroller: NodeEnroller;
let gateway: NodeGateway;
let gatewayPort: number;
let sshd: TunnelSshd;
const dirs: string[] = [];
const closers: Array<() => Promise<void>> = [];
const session = randomUUID();

/** A node's gateway.json pointed at this test's gateway (the API names the stack's address). */
async function useTestGateway(dir: string): Promise<TunnelledGateway> {
  const file = nodeFiles(dir).gateway;
  const info = JSON.parse(readFileSync(file, 'utf8')) as GatewayInfo;
  writeFileSync(file, JSON.stringify({ ...info, address: `127.0.0.1:${gatewayPort}` }));
  return tunnelOf(dir);
}

const tunnelPort = (info: TunnelledGateway) => Number(info.tunnel.listen.split(':')[1]);

/** Connects to a node's reverse port on the control host; what the other end answered ('' when closed at once). */
function throughTunnel(port: number, how: { tls: string } | { host: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer through the tunnel within 10 s')), 10_000);
    const done = (v: string) => {
      clearTimeout(timer);
      resolve(v);
    };
    if ('tls' in how) {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: how.tls, rejectUnauthorized: false });
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      socket.on('error', () => done(got));
      socket.on('close', () => done(got));
      return;
    }
    // A connection of its own each time (no keep-alive agent): the tunnel routes a connection, by its first request.
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { host: how.host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => done(body));
    });
    req.on('error', () => done(''));
  });
}

/** The stack's HackStream CA (the sessions' certificates), as the workers hold it. */
const sessionsCa = () => new FileCertificateAuthority(t.config.ingress.caCertFile, t.config.ingress.caKeyFile, { dnsNames: [], ipAddresses: [] });

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });

/** The fake session's xpra: TLS on the SSL port (the session's certificate from the HackStream CA), HTTP on the websocket port. */
async function fakeSession(): Promise<void> {
  const name = sessionTlsName(session, t.config.ingress.domain);
  const cert = await sessionsCa().issueServerCertificate({ commonName: name, dnsNames: [name], lifetimeSeconds: 3600 });
  const tlsServer = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => s.end(`native ${s.servername ?? ''}`));
  const httpServer = http.createServer((req, res) => res.end(`web ${req.headers.host ?? ''}`));
  await new Promise<void>((r) => tlsServer.listen(XPRA_SSL_PORT, SESSION_ADDRESS, r));
  await new Promise<void>((r) => httpServer.listen(XPRA_WS_PORT, SESSION_ADDRESS, r));
  closers.push(
    () => new Promise((r) => tlsServer.close(() => r())),
    () => new Promise((r) => httpServer.close(() => r())),
  );
}

/** The node side: its demux (which knows one session) and its tunnel. */
async function startNodeSide(dir: string): Promise<NodeTunnel> {
  const demux = new SessionDemux({ domain: t.config.ingress.domain, addressOf: async (id) => (id === session ? SESSION_ADDRESS : null), logger });
  const port = await demux.start();
  const tunnel = new NodeTunnel({ dir, target: { host: '127.0.0.1', port }, logger });
  await tunnel.start();
  closers.push(() => tunnel.stop(), () => demux.close());
  return tunnel;
}

beforeAll(async () => {
  t = await startApiUnderTest();
  admin = await t.newUser('admin');
  enroller = nodeEnroller(t, admin, inject('stack').caFile, dirs);
  const registry = new NodeRegistry(t.api.db);
  const sshPort = await freePort();
  const tunnelDir = path.join(os.tmpdir(), `hs-tunnel-sshd-${randomBytes(4).toString('hex')}`);
  dirs.push(tunnelDir);
  sshd = new TunnelSshd({ dir: tunnelDir, port: sshPort, user: t.config.nodeAuthority.tunnel.user, hostKey: new TunnelHostKey(t.config.nodeAuthority.tunnel.hostKeyFile), registry, logger });
  await sshd.start();
  const temporal = inject('stack').temporalAddress;
  gateway = new NodeGateway({
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: { h2: { host: temporal.slice(0, temporal.lastIndexOf(':')), port: Number(temporal.slice(temporal.lastIndexOf(':') + 1)) }, ssh: { host: '127.0.0.1', port: sshPort } },
    credentials: await gatewayCredentials(nodeCertificateAuthority(t.config.nodeAuthority), t.config.nodeAuthority),
    admits: admitsNode(registry),
    recheckMs: 1000,
    logger,
  });
  gatewayPort = await gateway.start();
  await fakeSession();
}, 60_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await gateway?.close();
  await sshd?.stop();
  await t?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('an edge node’s tunnel', () => {
  it('carries the ingress’s connections to the node’s sessions by name, only on its own port, until the node is revoked', async () => {
    const [a, b] = [`edge-${randomBytes(3).toString('hex')}`, `edge-${randomBytes(3).toString('hex')}`];
    const dirA = await enroller.enrolledAndApproved(a);
    const dirB = await enroller.enrolledAndApproved(b);
    const infoA = await useTestGateway(dirA);
    const infoB = await useTestGateway(dirB);
    // Each approved node has a port of its own, and the host key the sshd really has.
    expect(tunnelPort(infoA)).not.toBe(tunnelPort(infoB));
    expect(infoA.tunnel.hostKey).toBe(await new TunnelHostKey(t.config.nodeAuthority.tunnel.hostKeyFile).publicKey());
    await sshd.refresh();

    // B's key cannot listen on A's port (A's tunnel not up yet: the port is free, sshd refuses it).
    const takeover = tunnelCommand(dirB, { ...infoB, tunnel: { ...infoB.tunnel, listen: infoA.tunnel.listen } }, { host: '127.0.0.1', port: 9 });
    const tried = await collectOutput(spawn(takeover[0]!, takeover.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }), undefined, 30_000);
    expect(tried.code).not.toBe(0);
    expect(tried.stderr).toMatch(/remote port forwarding failed/);
    expect(await refused(tunnelPort(infoA))).toBe(true);

    await startNodeSide(dirA);
    const port = tunnelPort(infoA);
    await until('the tunnel’s port on the control host', async () => ((await refused(port)) ? null : true), 30_000);
    const domain = t.config.ingress.domain;
    // The native path: TLS passed through, routed by its server name.
    expect(await throughTunnel(port, { tls: sessionTlsName(session, domain) })).toBe(`native ${sessionTlsName(session, domain)}`);
    // The browser path: HTTP routed by its Host.
    expect(await throughTunnel(port, { host: sessionWebHost(session, domain) })).toBe(`web ${sessionWebHost(session, domain)}`);
    // A session the node does not have, and a name of no session: closed, nothing answered.
    expect(await throughTunnel(port, { tls: sessionTlsName(randomUUID(), domain) })).toBe('');
    expect(await throughTunnel(port, { host: 'example.org' })).toBe('');
    // The node gateway saw the tunnel as A's.
    expect(gateway.connections()[a]).toBeGreaterThanOrEqual(1);

    // The session placed on A: its routes in the stack's ingress go through A's tunnel, and the
    // ingress serves them (its own liveness check: the browser host answers, and the native name
    // reaches the session's certificate, signed by the HackStream CA).
    const registry = new NodeRegistry(t.api.db);
    await registry.heartbeat(a);
    expect(await registry.place({ sessionId: session, memoryMb: 512, cpus: 0.5, labels: { site: a }, strategy: 'binpack', preferred: [], aliveSince: new Date(Date.now() - 60_000) })).toBe(a);
    expect(await registry.tunnelPortOfSession(session)).toBe(port);
    const stack = inject('stack');
    const caPem = readFileSync(stack.caFile, 'utf8');
    const routes = new TraefikFileRoutes(t.config.ingress.routesDir, domain, { host: '127.0.0.1', port: stack.ingressPort, caPem: async () => caPem });
    await routes.add({ sessionId: session, containerIp: '192.0.2.1', via: `127.0.0.1:${port}` });
    closers.push(() => routes.remove(session));
    await routes.waitUntilLive(session);
    // A native client through the ingress and the tunnel: TLS end to end with the session's own certificate.
    const native = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: stack.ingressPort, servername: sessionTlsName(session, domain), ca: caPem }, () => undefined);
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('end', () => resolve(got));
      s.on('error', reject);
    });
    expect(native).toBe(`native ${sessionTlsName(session, domain)}`);
    // The browser path keeps its token rules: without a connect token the ingress's check refuses it.
    const browser = await httpsRequest(`https://${sessionWebHost(session, domain)}:${stack.ingressPort}/`, { caFile: stack.caFile });
    expect([401, 403]).toContain(browser.status);
    expect(browser.text).not.toContain('web ');

    // Revoked: the gateway closes its tunnel, its port goes, and the node cannot dial back in.
    expect((await t.call('POST', `/v1/nodes/${a}/revoke`, { token: admin.token })).status).toBe(200);
    const revokedAt = Date.now();
    await until('the revoked node’s port closed', async () => ((await refused(port)) ? true : null), 30_000);
    expect(Date.now() - revokedAt).toBeLessThan(30_000);
    await new Promise((r) => setTimeout(r, 5000));
    expect(await refused(port)).toBe(true);
    expect(gateway.connections()[a] ?? 0).toBe(0);
  }, 240_000);
});
