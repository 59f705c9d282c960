/**
 * A session node's side of enrolment (`hackstream-node enroll`): its key, made here and never
 * sent anywhere; the request carrying its public half to the API; the fingerprint the operator
 * compares with what the admin sees; and, once approved, its certificate from the node CA, asked
 * for again to renew it. Everything lives in the node's directory (key mode 600).
 */
import { createPublicKey } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import http from 'node:http';
import path from 'node:path';
import { writeFileAtomically } from '../core/atomic-file.js';
import { createNodeKey, keyFingerprint, signNodeToken } from '../core/node-identity.js';
import type { NodeCapacity } from '../core/node-registry.js';

/** The files of a node's directory. */
export const nodeFiles = (dir: string) => ({
  key: path.join(dir, 'node-key.pem'),
  request: path.join(dir, 'node.csr'),
  certificate: path.join(dir, 'node.pem'),
  caCertificate: path.join(dir, 'node-ca.pem'),
  gateway: path.join(dir, 'gateway.json'),
  /** The tunnel sshd's host key, as the node was told it with its certificate. */
  tunnelKnownHosts: path.join(dir, 'tunnel_known_hosts'),
});

export interface EnrolmentServer {
  /** The API's base URL, e.g. https://hackstream.example:8443 */
  url: string;
  /** A CA the API's certificate is checked against besides the system's (e.g. the HackStream CA). */
  caPem?: string | undefined;
}

export class EnrolmentError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

interface JsonAnswer {
  status: number;
  body: Record<string, unknown>;
}

function postJson(server: EnrolmentServer, route: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  const url = new URL(route, server.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(url.protocol === 'https:' && server.caPem ? { ca: server.caPem } : {}),
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown>;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            reject(new EnrolmentError(`${url.origin} answered ${res.statusCode} with a body that is not JSON: is this a HackStream API?`, res.statusCode));
            return;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (err) => reject(new EnrolmentError(`cannot reach ${url.origin}: ${err.message}`)));
    req.end(payload);
  });
}

function failure(answer: JsonAnswer): EnrolmentError {
  const error = answer.body['error'] as { code?: string; message?: string } | undefined;
  return new EnrolmentError(error?.message ?? `unexpected answer ${answer.status}`, answer.status, error?.code);
}

/** The node's key, made on first use; its fingerprint. */
export async function ensureNodeKey(dir: string, nodeId: string): Promise<{ keyPem: string; csrPem: string; fingerprint: string }> {
  const files = nodeFiles(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const existing = await readFile(files.key, 'utf8').catch(() => null);
  const csrPem = existing ? await readFile(files.request, 'utf8').catch(() => null) : null;
  if (existing && csrPem) {
    const spki = createPublicKey(existing).export({ type: 'spki', format: 'der' });
    return { keyPem: existing, csrPem, fingerprint: keyFingerprint(spki) };
  }
  const made = await createNodeKey(nodeId);
  // The request first: a key without its request is made again; a request without its key is never read.
  await writeFileAtomically(files.request, made.csrPem, { mode: 0o644 });
  await writeFileAtomically(files.key, made.keyPem, { mode: 0o600 });
  return made;
}

export type CertificateAnswer =
  | { approved: false; state: string }
  | { approved: true; state: string; notAfter: Date; gateway: GatewayInfo };

/** What a node dials (gateway.json in its directory): the gateway, and its tunnel once approved. */
export interface GatewayInfo {
  address: string;
  serverName: string;
  /** Temporal's namespace and the control task queue (the node polls `<taskQueue>-node-<id>`). */
  temporal?: { namespace: string; taskQueue: string };
  tunnel?: { user: string; listen: string; hostKey: string };
}

export class NodeEnrolment {
  constructor(
    private readonly server: EnrolmentServer,
    private readonly dir: string,
    private readonly nodeId: string,
  ) {}

  /** Sends the node's request; returns its state and the fingerprint the API recorded. */
  async enrol(offer: { labels: Record<string, string>; capacity: NodeCapacity }): Promise<{ state: string; fingerprint: string }> {
    const key = await ensureNodeKey(this.dir, this.nodeId);
    const answer = await postJson(this.server, '/v1/node-agent/enroll', {
      csr: key.csrPem,
      labels: offer.labels,
      capacity: { memory_mb: offer.capacity.memoryMb, cpus: offer.capacity.cpus, sessions: offer.capacity.maxSessions },
    });
    if (answer.status !== 200 && answer.status !== 202) throw failure(answer);
    const fingerprint = String(answer.body['fingerprint']);
    if (fingerprint !== key.fingerprint) {
      throw new EnrolmentError(`the API recorded fingerprint ${fingerprint}, not this node's ${key.fingerprint}: something between them changed the request`);
    }
    return { state: String(answer.body['state']), fingerprint };
  }

  /**
   * The node's sign of life (a node whose worker reaches no database); `reconciled`: back from
   * lost, with what its lost sessions left removed. Returns the state it acts on.
   */
  async heartbeat(reconciled = false): Promise<string> {
    const keyPem = await readFile(nodeFiles(this.dir).key, 'utf8');
    const answer = await postJson(this.server, '/v1/node-agent/heartbeat', { reconciled }, { authorization: `Bearer ${await signNodeToken(this.nodeId, keyPem)}` });
    if (answer.status !== 200) throw failure(answer);
    return String(answer.body['state']);
  }

  /** Asks for a certificate; an approved node's is written to its directory. */
  async fetchCertificate(): Promise<CertificateAnswer> {
    const files = nodeFiles(this.dir);
    const keyPem = await readFile(files.key, 'utf8').catch(() => {
      throw new EnrolmentError(`no node key in ${this.dir}: run \`hackstream-node enroll\` first`);
    });
    const token = await signNodeToken(this.nodeId, keyPem);
    const answer = await postJson(this.server, '/v1/node-agent/certificate', undefined, { authorization: `Bearer ${token}` });
    if (answer.status === 202) return { approved: false, state: String(answer.body['state']) };
    if (answer.status !== 200) throw failure(answer);
    const b = answer.body as {
      state: string;
      certificate: string;
      ca_certificate: string;
      not_after: string;
      gateway: { address: string; server_name: string };
      temporal?: { namespace: string; task_queue: string };
      tunnel?: { user: string; listen: string; host_key: string };
    };
    const gateway: GatewayInfo = {
      address: b.gateway.address,
      serverName: b.gateway.server_name,
      ...(b.temporal ? { temporal: { namespace: b.temporal.namespace, taskQueue: b.temporal.task_queue } } : {}),
      ...(b.tunnel ? { tunnel: { user: b.tunnel.user, listen: b.tunnel.listen, hostKey: b.tunnel.host_key } } : {}),
    };
    await writeFileAtomically(files.caCertificate, b.ca_certificate, { mode: 0o644 });
    await writeFileAtomically(files.gateway, JSON.stringify(gateway, null, 2) + '\n', { mode: 0o644 });
    // The certificate last: with it present, the rest is.
    await writeFileAtomically(files.certificate, b.certificate, { mode: 0o644 });
    return { approved: true, state: b.state, notAfter: new Date(b.not_after), gateway };
  }
}
