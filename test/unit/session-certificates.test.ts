import { X509Certificate, createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sessionCertificateActivities } from '../../activities/session-certificates.js';
import { FILES, SessionFiles } from '../../activities/session-files.js';
import { FileCertificateAuthority } from '../../core/certificate-authority.js';
import { sessionPublicKeyHex } from '../../core/session-token-key.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-session-certs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const secret = 's'.repeat(40);
const ca = new FileCertificateAuthority(path.join(dir, 'ca', 'ca.pem'), path.join(dir, 'ca', 'ca-key.pem'), { dnsNames: ['hs.test'], ipAddresses: [] });
const files = new SessionFiles(path.join(dir, 'sessions'), { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
const activities = sessionCertificateActivities({ certificates: ca, files, domain: 'hs.test', sessionTokenSecret: secret });

describe('a session’s key made on its node, certified by the control plane', () => {
  it('keeps the private key on the node: the CA certifies its public half for the session’s name', async () => {
    await ca.ensure();
    const id = randomUUID();
    const { publicKeySpki } = await activities.createSessionKey({ sessionId: id });
    // A retried step gets the same key.
    expect((await activities.createSessionKey({ sessionId: id })).publicKeySpki).toBe(publicKeySpki);
    // Nothing of the session is listed before its files are complete.
    expect(await files.list()).toEqual([]);

    const signed = await activities.signSessionCertificate({ sessionId: id, publicKeySpki, notBefore: Date.now() - 1000, lifetimeSeconds: 3600 });
    expect(JSON.stringify(signed)).not.toMatch(/PRIVATE KEY/);
    expect(signed.tokenPublicKeyHex).toBe(sessionPublicKeyHex(secret, id));
    const cert = new X509Certificate(signed.certPem);
    expect(cert.subjectAltName).toBe(`DNS:${id}.sessions.hs.test`);
    expect(cert.checkIssued(new X509Certificate(readFileSync(ca.certPath)))).toBe(true);
    expect(cert.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')).toBe(publicKeySpki);

    await activities.installSessionCertificate({ sessionId: id, ...signed });
    const sessionDir = files.dirOf(id);
    const keyPem = readFileSync(path.join(sessionDir, FILES.key), 'utf8');
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(readFileSync(path.join(sessionDir, FILES.cert), 'utf8')).toBe(signed.certPem);
    expect(readFileSync(path.join(sessionDir, FILES.tokenPublicKey), 'utf8')).toBe(signed.tokenPublicKeyHex);
    // The pending key moved into the session's directory; the session is listed now.
    expect(readdirSync(path.join(dir, 'sessions')).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect((await files.list()).map((f) => f.sessionId)).toEqual([id]);
    // Retries after the files exist keep them, and report the same key.
    await activities.installSessionCertificate({ sessionId: id, ...signed });
    expect(readFileSync(path.join(sessionDir, FILES.key), 'utf8')).toBe(keyPem);
    expect((await activities.createSessionKey({ sessionId: id })).publicKeySpki).toBe(createPublicKey(keyPem).export({ type: 'spki', format: 'der' }).toString('base64'));

    await files.remove(id);
    expect(existsSync(sessionDir)).toBe(false);
  });

  it('leaves no key behind for a session removed before its certificate came', async () => {
    const id = randomUUID();
    await activities.createSessionKey({ sessionId: id });
    expect(readdirSync(path.join(dir, 'sessions')).some((n) => n.startsWith(id))).toBe(true);
    await files.remove(id);
    expect(readdirSync(path.join(dir, 'sessions')).some((n) => n.startsWith(id))).toBe(false);
  });
});
