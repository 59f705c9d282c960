/**
 * The HackStream CA can only vouch for the names it serves (security hardening, point 9): a
 * certificate its key signs for any other name is refused by OpenSSL, the library xpra and the
 * client's TLS rest on. The CA of the running stack carries the constraint; a CA created before
 * it keeps working, reported once at start.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { FileCertificateAuthority } from '../../core/certificate-authority.js';
import { loadWorkerConfig } from '../../core/config.js';
import { openCertificateAuthority } from '../../worker/ca-setup.js';
import { caPermittedNames } from '../../worker/ingress-setup.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'hs-ca-nc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const INGRESS = { domain: 'hackstream.test', publicHost: 'ingress.example.net' };

function openssl(args: string[]): { ok: boolean; output: string } {
  const res = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: res.status === 0, output: `${res.stdout}${res.stderr}` };
}

/** Verifies a leaf against the CA alone, as a TLS client checking a server would. */
const verify = (caFile: string, leafFile: string) => openssl(['verify', '-CAfile', caFile, '-purpose', 'sslserver', leafFile]);

/** Signs a server certificate for `san` with the CA's key directly, bypassing FileCertificateAuthority. */
function signDirectly(caDir: string, name: string, san: string): string {
  const base = path.join(caDir, name);
  writeFileSync(`${base}.ext`, `subjectAltName = ${san}\nextendedKeyUsage = serverAuth\nbasicConstraints = critical, CA:FALSE\n`);
  const req = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}-key.pem`, '-subj', `/CN=${name}`, '-out', `${base}.csr`]);
  expect(req.ok, req.output).toBe(true);
  const signed = openssl([
    'x509', '-req', '-in', `${base}.csr`, '-CA', path.join(caDir, 'ca.pem'), '-CAkey', path.join(caDir, 'ca-key.pem'),
    '-set_serial', String(Date.now()), '-days', '1', '-sha256', '-extfile', `${base}.ext`, '-out', `${base}.pem`,
  ]);
  expect(signed.ok, signed.output).toBe(true);
  return `${base}.pem`;
}

const quietLogger = () => {
  const warnings: string[] = [];
  return { warnings, logger: { info: () => undefined, warn: (message: string) => void warnings.push(message) } as never };
};

describe('the HackStream CA', () => {
  it('signs only for the sessions domain, the ingress host and loopback: OpenSSL refuses anything else its key signs', async () => {
    const caDir = path.join(tmp, 'new');
    const ca = new FileCertificateAuthority(path.join(caDir, 'ca.pem'), path.join(caDir, 'ca-key.pem'), caPermittedNames(INGRESS));
    expect(await ca.ensure()).toEqual({ created: true });
    expect(await ca.isNameConstrained()).toBe(true);
    const text = openssl(['x509', '-noout', '-text', '-in', ca.certPath]).output;
    expect(text).toMatch(/X509v3 Name Constraints: critical/);

    // Issued the usual way, for a session and for the ingress's names.
    const issued = await ca.issueServerCertificate({
      commonName: 'abc.sessions.hackstream.test',
      dnsNames: ['abc.sessions.hackstream.test', 'ingress.example.net', 'localhost'],
      ipAddresses: ['127.0.0.1'],
      lifetimeSeconds: 600,
    });
    writeFileSync(path.join(caDir, 'issued.pem'), issued.certPem);
    const good = verify(ca.certPath, path.join(caDir, 'issued.pem'));
    expect(good.output.trim()).toBe(`${path.join(caDir, 'issued.pem')}: OK`);

    // Signed directly with the key: a permitted name still passes (the signing is sound) ...
    const direct = verify(ca.certPath, signDirectly(caDir, 'direct', 'DNS:xyz.sessions.hackstream.test'));
    expect(direct.ok, direct.output).toBe(true);
    // ... any other name or address does not.
    for (const [name, san] of [
      ['other-site', 'DNS:www.example.com'],
      ['lookalike', 'DNS:hackstream.test.example.com'],
      ['other-address', 'IP:10.1.2.3'],
    ] as const) {
      const refused = verify(ca.certPath, signDirectly(caDir, name, san));
      expect(refused.ok, `${san} was accepted:\n${refused.output}`).toBe(false);
      expect(refused.output).toMatch(/permitted subtree violation/);
    }
  });

  it('of the running stack is created with the constraint, for its own names', () => {
    const stack = inject('stack');
    const text = openssl(['x509', '-noout', '-text', '-in', stack.caFile]).output;
    expect(text).toMatch(/X509v3 Name Constraints: critical\s+Permitted:/);
    const { dnsNames, ipAddresses } = caPermittedNames(loadWorkerConfig(stack.env).ingress);
    for (const name of dnsNames) expect(text).toContain(`DNS:${name}\n`);
    for (const ip of ipAddresses) expect(text).toContain(`IP:${ip}/255.255.255.255`);
  });

  it('keeps working when it was created before name constraints, with one warning at start', async () => {
    const caDir = path.join(tmp, 'legacy');
    mkdirSync(caDir, { mode: 0o700 });
    // What earlier versions created: the same CA without the Name Constraints extension.
    const config = path.join(caDir, 'ca.cnf');
    writeFileSync(config, [
      '[req]', 'distinguished_name = dn', 'x509_extensions = v3', 'prompt = no',
      '[dn]', 'CN = HackStream CA', 'O = HackStream',
      '[v3]', 'basicConstraints = critical, CA:TRUE, pathlen:0', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash', '',
    ].join('\n'));
    const made = openssl([
      'req', '-x509', '-config', config, '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', path.join(caDir, 'ca-key.pem'), '-out', path.join(caDir, 'ca.pem'), '-days', '30',
    ]);
    expect(made.ok, made.output).toBe(true);
    const before = readFileSync(path.join(caDir, 'ca.pem'), 'utf8');
    const ingress = { ...INGRESS, caCertFile: path.join(caDir, 'ca.pem'), caKeyFile: path.join(caDir, 'ca-key.pem') };

    const { warnings, logger } = quietLogger();
    const ca = await openCertificateAuthority(ingress, logger);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no name constraints.*Rotating the CA/);
    expect(readFileSync(path.join(caDir, 'ca.pem'), 'utf8')).toBe(before); // the pinned CA is kept
    expect(await ca.isNameConstrained()).toBe(false);
    const issued = await ca.issueServerCertificate({ commonName: 'abc.sessions.hackstream.test', dnsNames: ['abc.sessions.hackstream.test'], lifetimeSeconds: 600 });
    writeFileSync(path.join(caDir, 'issued.pem'), issued.certPem);
    const ok = verify(ingress.caCertFile, path.join(caDir, 'issued.pem'));
    expect(ok.ok, ok.output).toBe(true);

    // A constrained CA is not reported.
    const fresh = quietLogger();
    await openCertificateAuthority({ ...INGRESS, caCertFile: path.join(tmp, 'fresh', 'ca.pem'), caKeyFile: path.join(tmp, 'fresh', 'ca-key.pem') }, fresh.logger);
    expect(fresh.warnings).toEqual([]);
  });
});
