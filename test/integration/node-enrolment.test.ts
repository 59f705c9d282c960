/**
 * Edge nodes' enrolment and the node gateway, against the real API (through the ingress), its
 * database, the node CA and Temporal: `hackstream-node enroll` (the real command, as a process)
 * makes its key, prints the fingerprint the admin then sees on a pending node, gets no
 * certificate and no session before approval and its certificate after; the gateway lets that
 * certificate reach Temporal with mutual TLS, refuses every other, and cuts a revoked node off.
 */
import { X509Certificate, randomBytes, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EnrolmentThrottle } from '../../api/nodes/enrolment-throttle.js';
import { createLogger } from '../../core/logger.js';
import { createNodeKey, nodeCertificateAuthority, nodeGatewayName, readNodeCertificateRequest } from '../../core/node-identity.js';
import { NodeRegistry } from '../../core/node-registry.js';
import { admitsNode, gatewayCredentials } from '../../node-gateway/gateway-admission.js';
import { NodeGateway } from '../../node-gateway/node-gateway.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { nodeCli, nodeEnroller, type NodeEnroller } from '../support/enrolled-node.js';
import { collectOutput } from '../support/process-output.js';
import { until } from '../support/until.js';

let t: ApiUnderTest;
let admin: Awaited<ReturnType<ApiUnderTest['newUser']>>;
let gateway: NodeGateway;
let gatewayPort: number;
const dirs: string[] = [];
const RECHECK_MS = 1000;

const nodeName = (what: string) => `${what}-${randomBytes(3).toString('hex')}`;
let enroller: NodeEnroller;
const tempDir = () => enroller.tempDir();
const enrolArgs = (name: string, dir: string, extra: string[] = []) => enroller.enrolArgs(name, dir, extra);
const nodes = () => enroller.nodes();
const enrolledAndApproved = (name: string) => enroller.enrolledAndApproved(name);

const files = (dir: string) => ({
  key: readFileSync(path.join(dir, 'node-key.pem'), 'utf8'),
  cert: readFileSync(path.join(dir, 'node.pem'), 'utf8'),
  ca: readFileSync(path.join(dir, 'node-ca.pem'), 'utf8'),
});

/**
 * A TLS connection to the gateway as a node makes it, and when it closes. (Under TLS 1.3 the
 * client finishes its handshake before the server has judged its certificate: a refusal shows as
 * the connection closing right after.)
 */
function dialGateway(client: { cert: string; key: string } | null, ca: string): { socket: tls.TLSSocket; closed: Promise<void> } {
  const socket = tls.connect({ host: '127.0.0.1', port: gatewayPort, servername: nodeGatewayName(t.config.nodeAuthority.domain), ca, ALPNProtocols: ['h2'], ...(client ?? {}) });
  socket.on('error', () => undefined);
  // Flowing, so that the server's closing is seen (a paused socket never reads the end).
  socket.resume();
  return { socket, closed: new Promise<void>((r) => socket.once('close', () => r())) };
}

/** Whether Temporal answers through the gateway with these credentials (a real gRPC call). */
async function reachesTemporal(dir: string | null, caPem: string): Promise<boolean> {
  const connection = await Connection.connect({
    address: `127.0.0.1:${gatewayPort}`,
    tls: {
      serverNameOverride: nodeGatewayName(t.config.nodeAuthority.domain),
      serverRootCACertificate: Buffer.from(caPem),
      ...(dir ? { clientCertPair: { crt: Buffer.from(files(dir).cert), key: Buffer.from(files(dir).key) } } : {}),
    },
    connectTimeout: 5000,
  }).catch(() => null);
  if (!connection) return false;
  try {
    await connection.withDeadline(Date.now() + 10_000, () => connection.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}

beforeAll(async () => {
  t = await startApiUnderTest();
  admin = await t.newUser('admin');
  enroller = nodeEnroller(t, admin, inject('stack').caFile, dirs);
  const ca = nodeCertificateAuthority(t.config.nodeAuthority);
  const temporal = inject('stack').temporalAddress;
  gateway = new NodeGateway({
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: { h2: { host: temporal.slice(0, temporal.lastIndexOf(':')), port: Number(temporal.slice(temporal.lastIndexOf(':') + 1)) } },
    credentials: await gatewayCredentials(ca, t.config.nodeAuthority),
    admits: admitsNode(new NodeRegistry(t.api.db)),
    recheckMs: RECHECK_MS,
    logger: createLogger({ level: 'warn', service: 'node-gateway-test', json: false }),
  });
  gatewayPort = await gateway.start();
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await t?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('hackstream-node enroll', () => {
  it('prints the fingerprint an admin sees on a pending node, which gets neither certificate nor session until approved', async () => {
    const name = nodeName('edge');
    const dir = tempDir();
    const proc = nodeCli(enrolArgs(name, dir, ['--wait', '120']));
    let stdout = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const done = collectOutput(proc, undefined, 150_000);
    const printed = await until('the fingerprint printed', () => /fingerprint: (SHA256:\S+)/.exec(stdout)?.[1], 60_000);

    // The key stays on the node, for its user only; its request carries the printed fingerprint.
    expect(statSync(path.join(dir, 'node-key.pem')).mode & 0o777).toBe(0o600);
    expect((await readNodeCertificateRequest(readFileSync(path.join(dir, 'node.csr'), 'utf8'))).fingerprint).toBe(printed);
    const listed = (await nodes()).find((n) => n.id === name);
    expect(listed).toMatchObject({ state: 'pending', fingerprint: printed, labels: { site: name } });

    // Pending: no certificate, and no session is placed on it.
    await new Promise((r) => setTimeout(r, 1500));
    expect(existsSync(path.join(dir, 'node.pem'))).toBe(false);
    const registry = new NodeRegistry(t.api.db);
    const placement = { sessionId: randomUUID(), memoryMb: 512, cpus: 1, labels: { site: name }, strategy: 'binpack' as const, preferred: [name], aliveSince: new Date(0) };
    expect(await registry.place(placement)).toBeNull();

    expect((await t.call('POST', `/v1/nodes/${name}/approve`, { token: admin.token })).status).toBe(200);
    const result = await done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('waiting for an admin');

    // The certificate: from the node CA (not the sessions' CA), for the node's own key, client authentication only.
    const { cert, ca } = files(dir);
    const x = new X509Certificate(cert);
    expect(x.checkIssued(new X509Certificate(ca))).toBe(true);
    expect(x.verify(new X509Certificate(ca).publicKey)).toBe(true);
    expect(x.subject).toBe(`CN=${name}`);
    expect(x.publicKey.export({ type: 'spki', format: 'der' }).equals(Buffer.from((await readNodeCertificateRequest(readFileSync(path.join(dir, 'node.csr'), 'utf8'))).publicKeySpki))).toBe(true);
    const verify = (caFile: string) => {
      try {
        return execFileSync('openssl', ['verify', '-CAfile', caFile, '-purpose', 'sslclient', path.join(dir, 'node.pem')], { encoding: 'utf8', stdio: 'pipe' });
      } catch (err) {
        return String((err as { stdout?: string }).stdout ?? err);
      }
    };
    expect(verify(path.join(dir, 'node-ca.pem'))).toContain(': OK');
    expect(verify(inject('stack').caFile)).not.toContain(': OK');
    expect(Date.parse(x.validTo) - Date.now()).toBeLessThanOrEqual(t.config.nodeAuthority.certificateSeconds * 1000);

    const audit = await t.call('GET', `/v1/audit?action=node.enrolled&limit=20`, { token: admin.token });
    expect(audit.body.events).toContainEqual(expect.objectContaining({ action: 'node.enrolled', target_id: name, actor_id: null }));
  }, 180_000);

  it('refuses the same name under another key, and a revoked node its renewal', async () => {
    const name = nodeName('edge');
    const dir = await enrolledAndApproved(name);
    const clash = await collectOutput(nodeCli(enrolArgs(name, tempDir(), ['--wait', '0'])), undefined, 60_000);
    expect(clash.code).toBe(3);
    expect(clash.stderr).toContain('node_exists');
    // Enrolling again with its own key is a retry: the node as it is.
    const again = await collectOutput(nodeCli(enrolArgs(name, dir, ['--wait', '0'])), undefined, 60_000);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`node ${name} enrolled (active)`);

    const renewed = await collectOutput(nodeCli(['renew', '--dir', dir]), undefined, 60_000);
    expect(renewed.code, renewed.stderr).toBe(0);
    expect((await t.call('POST', `/v1/nodes/${name}/revoke`, { token: admin.token })).status).toBe(200);
    const refused = await collectOutput(nodeCli(['renew', '--dir', dir]), undefined, 60_000);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('node_revoked');
  }, 240_000);

  it('answers a bad request, a bad token and bad usage clearly', async () => {
    const bad = await t.call('POST', '/v1/node-agent/enroll', { body: { csr: 'nope', capacity: { memory_mb: 1024, cpus: 1, sessions: 1 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_csr');
    const missing = await t.call('POST', '/v1/node-agent/enroll', { body: { csr: (await createNodeKey('x-1')).csrPem } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toContain('capacity');
    for (const authorization of [undefined, 'Bearer nope', `Bearer ${admin.token}`]) {
      const res = await t.call('POST', '/v1/node-agent/certificate', { headers: authorization ? { authorization } : {} });
      expect(res.status, String(authorization)).toBe(401);
    }
    const usage = await collectOutput(nodeCli(['enroll', '--server', 'ftp://x', '--name', 'a']), undefined, 60_000);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--server must be the API URL');
    const unreachable = await collectOutput(nodeCli(['enroll', '--server', 'https://127.0.0.1:1', '--name', 'edge-x', '--dir', tempDir()]), undefined, 60_000);
    expect(unreachable.code).toBe(4);
    expect(unreachable.stderr).toContain('cannot reach');
  }, 180_000);
});

describe('the enrolment limit per address', () => {
  it('lets one address enrol a few times per hour, an IPv6 /64 counting as one address', async () => {
    const redis = new Redis(t.config.redisUrl, { lazyConnect: true });
    await redis.connect();
    try {
      // A limit of its own (the limit is part of the counters' key): the stack's is set high.
      const throttle = new EnrolmentThrottle(redis, 2);
      const v4 = `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.7`;
      expect(await throttle.consume(v4)).toBeNull();
      expect(await throttle.consume(v4)).toBeNull();
      const wait = await throttle.consume(v4);
      expect(wait).toBeGreaterThan(3500);
      expect(wait).toBeLessThanOrEqual(3600);
      const net = `2001:db8:${randomBytes(2).toString('hex')}:1`;
      expect(await throttle.consume(`${net}::1`)).toBeNull();
      expect(await throttle.consume(`${net}::2`)).toBeNull();
      expect(await throttle.consume(`${net}:ffff::3`)).not.toBeNull();
    } finally {
      redis.disconnect();
    }
  });
});

describe('the node gateway', () => {
  it("lets an approved node's certificate reach Temporal, refuses every other, and cuts a revoked node off within its recheck", async () => {
    const name = nodeName('edge');
    const dir = await enrolledAndApproved(name);
    const { ca, cert, key } = files(dir);

    // The node's worker side connects as the SDK does (Rust core), and as a client.
    expect(await reachesTemporal(dir, ca)).toBe(true);
    const native = await NativeConnection.connect({
      address: `127.0.0.1:${gatewayPort}`,
      tls: { serverNameOverride: nodeGatewayName(t.config.nodeAuthority.domain), serverRootCACertificate: Buffer.from(ca), clientCertPair: { crt: Buffer.from(cert), key: Buffer.from(key) } },
    });
    await native.close();

    // No certificate: the handshake itself fails; the sessions' CA's certificates are not node certificates.
    expect(await reachesTemporal(null, ca)).toBe(false);
    await dialGateway(null, ca).closed;
    // A pending node's certificate (signed by the node CA itself, as a leaked one would be) is refused by the registry check.
    const pendingName = nodeName('pending');
    const pendingKey = await createNodeKey(pendingName);
    const enrolled = await t.call('POST', '/v1/node-agent/enroll', { body: { csr: pendingKey.csrPem, capacity: { memory_mb: 1024, cpus: 1, sessions: 1 } } });
    expect(enrolled.status).toBe(202);
    const forged = await nodeCertificateAuthority(t.config.nodeAuthority).issueClientCertificate({
      commonName: pendingName,
      dnsNames: [],
      publicKeySpki: (await readNodeCertificateRequest(pendingKey.csrPem)).publicKeySpki,
      lifetimeSeconds: 600,
    });
    await dialGateway({ cert: forged.certPem, key: pendingKey.keyPem }, ca).closed;

    // In: a connection held open is closed within the recheck after the revocation, and none is let in again.
    const held = dialGateway({ cert, key }, ca);
    await new Promise((r) => setTimeout(r, 2 * RECHECK_MS));
    expect(held.socket.destroyed).toBe(false);
    expect(gateway.connections()[name]).toBeGreaterThanOrEqual(1);
    const revokedAt = Date.now();
    expect((await t.call('POST', `/v1/nodes/${name}/revoke`, { token: admin.token })).status).toBe(200);
    await held.closed;
    expect(Date.now() - revokedAt).toBeLessThan(RECHECK_MS * 10);
    expect(gateway.connections()[name]).toBeUndefined();
    expect(await reachesTemporal(dir, ca)).toBe(false);
  }, 240_000);
});
