import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileCertificateAuthority } from '../../core/certificate-authority.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-ca-'));
const certFile = path.join(dir, 'ca', 'ca.pem');
const keyFile = path.join(dir, 'ca', 'ca-key.pem');
const authority = () => new FileCertificateAuthority(certFile, keyFile, { dnsNames: ['hackstream.test', 'localhost'], ipAddresses: ['127.0.0.1'] });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the HackStream CA', () => {
  it('is created once, even when several processes ask at the same time, with a private key only its owner reads', async () => {
    const results = await Promise.all([1, 2, 3].map(() => authority().ensure()));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(keyFile)).mode & 0o777).toBe(0o700);
    const ca = new X509Certificate(readFileSync(certFile));
    expect(ca.ca).toBe(true);
    expect(ca.subject).toContain('CN=HackStream CA');
    expect(await authority().ensure()).toEqual({ created: false });
  });

  it('is created past the lock a creator that died left behind, but never past a fresh one', async () => {
    const other = mkdtempSync(path.join(os.tmpdir(), 'hs-ca-lock-'));
    const ca = () => new FileCertificateAuthority(path.join(other, 'ca.pem'), path.join(other, 'ca-key.pem'), { dnsNames: ['hackstream.test'], ipAddresses: [] });
    const lock = path.join(other, '.create.lock');
    mkdirSync(other, { recursive: true });
    writeFileSync(lock, '');
    const longAgo = new Date(Date.now() - 10 * 60_000);
    utimesSync(lock, longAgo, longAgo);
    expect(await ca().ensure()).toEqual({ created: true });
    rmSync(path.join(other, 'ca.pem'));
    writeFileSync(lock, '');
    await expect(ca().ensure()).rejects.toThrow(/being created by another process/);
    rmSync(other, { recursive: true, force: true });
  }, 30_000);

  it('issues server certificates that chain to it, for the names asked and no longer than asked', async () => {
    const ca0 = authority();
    const issued = await ca0.issueServerCertificate({
      commonName: 'abc.sessions.hackstream.test',
      dnsNames: ['abc.sessions.hackstream.test'],
      ipAddresses: ['127.0.0.1'],
      lifetimeSeconds: 3600,
    });
    const leaf = new X509Certificate(issued.certPem);
    const ca = new X509Certificate(await ca0.caCertificatePem());
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkHost('abc.sessions.hackstream.test')).toBe('abc.sessions.hackstream.test');
    expect(leaf.checkHost('other.sessions.hackstream.test')).toBeUndefined();
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(new Date(leaf.validTo).getTime()).toBeLessThanOrEqual(Date.now() + 3600_000);
    // The key matches the certificate.
    expect(createPublicKey(createPrivateKey(issued.keyPem)).export({ format: 'pem', type: 'spki' })).toBe(leaf.publicKey.export({ format: 'pem', type: 'spki' }));
    // And OpenSSL agrees it is a valid server certificate for that name.
    const leafFile = path.join(dir, 'leaf.pem');
    writeFileSync(leafFile, issued.certPem);
    const out = execFileSync('openssl', ['verify', '-CAfile', certFile, '-purpose', 'sslserver', '-verify_hostname', 'abc.sessions.hackstream.test', leafFile], {
      encoding: 'utf8',
    });
    expect(out.trim()).toBe(`${leafFile}: OK`);
  });
});
