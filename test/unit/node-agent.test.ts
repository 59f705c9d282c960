/**
 * api/nodes/node-agent.ts with its registry, CA, audit and throttle faked: which answer each
 * outcome of an enrolment gets, what is recorded, and who gets a certificate.
 */
import { describe, expect, it } from 'vitest';
import { NodeAgent } from '../../api/nodes/node-agent.js';
import type { HttpError } from '../../api/http-error.js';
import { createNodeKey, readNodeCertificateRequest, signNodeToken } from '../../core/node-identity.js';
import type { NodeEnrolmentResult, NodeView } from '../../core/node-registry.js';
import type { NodeState } from '../../core/node-names.js';

const config = { domain: 'hs.example', certificateSeconds: 3600, gateway: { address: 'hs.example:7443' }, tunnel: { user: 'hackstream-node' } } as never;
const capacity = { memoryMb: 1024, cpus: 1, maxSessions: 1 };

function agent(opts: { enrol?: NodeEnrolmentResult; wait?: number | null; identity?: { state: NodeState; publicKeySpki: Uint8Array; fingerprint: string; tunnelPort?: number | null } | null } = {}) {
  const calls = { enrol: 0, issued: [] as Array<{ commonName: string; dnsNames: string[] }>, audit: [] as string[] };
  const a = new NodeAgent(
    {
      enrol: async () => {
        calls.enrol++;
        return opts.enrol ?? { ok: false, reason: 'name_taken' };
      },
      identity: async () => (opts.identity ? { tunnelPort: null, ...opts.identity } : null),
      heartbeat: async () => opts.identity?.state ?? null,
      returnFromLost: async () => opts.identity?.state === 'lost',
    },
    {
      ensure: async () => ({ created: false }),
      issueClientCertificate: async (req) => {
        calls.issued.push({ commonName: req.commonName, dnsNames: req.dnsNames });
        return { certPem: 'CERT', notAfter: new Date(Date.now() + 3600_000) };
      },
      caCertificatePem: async () => 'CA',
    },
    config,
    { record: async (e) => void calls.audit.push(e.action) },
    { consume: async () => opts.wait ?? null },
    { publicKey: async () => 'ecdsa-sha2-nistp256 AAAA' },
    { namespace: 'default', taskQueue: 'hs-q' },
  );
  return { a, calls };
}

const node = (state: NodeState): NodeView => ({ id: 'edge-1', labels: {}, state, capacity, reserved: { memoryMb: 0, cpus: 0, sessions: 0 }, lastHeartbeatAt: null, fingerprint: 'x', tunnelPort: null, createdAt: 0 });
const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as HttpError);

describe('NodeAgent.enrol', () => {
  it('refuses an address over its limit before reading anything, with Retry-After', async () => {
    const { a, calls } = agent({ wait: 42 });
    const err = await failure(a.enrol({ csr: 'anything', labels: {}, capacity }, '10.0.0.1'));
    expect(err).toMatchObject({ status: 429, code: 'too_many_enrolments', headers: { 'Retry-After': '42' } });
    expect(calls.enrol).toBe(0);
  });

  it('answers each outcome: a bad request, a taken name, too many waiting, new (audited once), a retry', async () => {
    const { csrPem, fingerprint } = await createNodeKey('edge-1');
    expect(await failure(agent().a.enrol({ csr: 'nope', labels: {}, capacity }, ''))).toMatchObject({ status: 400, code: 'invalid_csr' });
    expect(await failure(agent({ enrol: { ok: false, reason: 'name_taken' } }).a.enrol({ csr: csrPem, labels: {}, capacity }, ''))).toMatchObject({ status: 409, code: 'node_exists' });
    expect(await failure(agent({ enrol: { ok: false, reason: 'too_many_pending' } }).a.enrol({ csr: csrPem, labels: {}, capacity }, ''))).toMatchObject({ status: 429, code: 'too_many_pending_nodes' });
    const fresh = agent({ enrol: { ok: true, created: true, node: node('pending') } });
    expect(await fresh.a.enrol({ csr: csrPem, labels: {}, capacity }, '')).toEqual({ status: 202, body: { id: 'edge-1', state: 'pending', fingerprint } });
    expect(fresh.calls.audit).toEqual(['node.enrolled']);
    const retry = agent({ enrol: { ok: true, created: false, node: node('active') } });
    expect((await retry.a.enrol({ csr: csrPem, labels: {}, capacity }, '')).status).toBe(200);
    expect(retry.calls.audit).toEqual([]);
  });
});

describe('NodeAgent.authenticate and certificate', () => {
  it('issues only to an approved node, for its own name under the nodes domain', async () => {
    const key = await createNodeKey('edge-1');
    const { publicKeySpki, fingerprint } = await readNodeCertificateRequest(key.csrPem);
    for (const [state, issued] of [['pending', false], ['active', true], ['draining', true], ['lost', true]] as const) {
      const { a, calls } = agent({ identity: { state, publicKeySpki, fingerprint } });
      const who = await a.authenticate(`Bearer ${await signNodeToken('edge-1', key.keyPem)}`);
      const answer = await a.certificate(who, '');
      expect(answer.status, state).toBe(issued ? 200 : 202);
      expect(calls.issued).toEqual(issued ? [{ commonName: 'edge-1', dnsNames: ['edge-1.nodes.hs.example'] }] : []);
      if (issued) expect(answer.body).toMatchObject({ certificate: 'CERT', ca_certificate: 'CA', gateway: { address: 'hs.example:7443', server_name: 'gateway.nodes.hs.example' } });
      expect(answer.body).not.toHaveProperty('tunnel');
      if (issued) expect(answer.body.temporal).toEqual({ namespace: 'default', task_queue: 'hs-q' });
    }
  });

  it('tells an approved node its tunnel: the user, its reverse listener and the host key', async () => {
    const key = await createNodeKey('edge-1');
    const { publicKeySpki, fingerprint } = await readNodeCertificateRequest(key.csrPem);
    const { a } = agent({ identity: { state: 'active', publicKeySpki, fingerprint, tunnelPort: 17003 } });
    const answer = await a.certificate(await a.authenticate(`Bearer ${await signNodeToken('edge-1', key.keyPem)}`), '');
    expect(answer.body.tunnel).toEqual({ user: 'hackstream-node', listen: '127.0.0.1:17003', host_key: 'ecdsa-sha2-nistp256 AAAA' });
  });

  it('refuses a revoked node (403), and a token of another key or none at all (401)', async () => {
    const key = await createNodeKey('edge-1');
    const other = await createNodeKey('edge-1');
    const { publicKeySpki, fingerprint } = await readNodeCertificateRequest(key.csrPem);
    const revoked = agent({ identity: { state: 'revoked', publicKeySpki, fingerprint } }).a;
    expect(await failure(revoked.authenticate(`Bearer ${await signNodeToken('edge-1', key.keyPem)}`))).toMatchObject({ status: 403, code: 'node_revoked' });
    const active = agent({ identity: { state: 'active', publicKeySpki, fingerprint } }).a;
    expect(await failure(active.authenticate(`Bearer ${await signNodeToken('edge-1', other.keyPem)}`))).toMatchObject({ status: 401 });
    expect(await failure(active.authenticate(undefined))).toMatchObject({ status: 401 });
    expect(await failure(active.authenticate('Basic abc'))).toMatchObject({ status: 401 });
  });
});
