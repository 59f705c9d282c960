/**
 * core/node-identity.ts: a node's key and request, the fingerprint both sides compute, what a
 * request must be to be accepted, and the tokens a node signs its API requests with.
 */
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createNodeKey, keyFingerprint, nodeTokenSubject, NodeRequestError, readNodeCertificateRequest, signNodeToken, verifyNodeToken } from '../../core/node-identity.js';

const spkiOf = (keyPem: string) => new Uint8Array(createPublicKey(keyPem).export({ type: 'spki', format: 'der' }));

async function requestFor(name: string, algorithm: { name: 'ECDSA'; namedCurve: string; hash: string }): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  return (await x509.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm: algorithm })).toString('pem');
}

describe('a node key and its certificate request', () => {
  it('are read back with the node name and the same fingerprint the node computed from its key', async () => {
    const made = await createNodeKey('edge-1');
    expect(made.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(keyFingerprint(spkiOf(made.keyPem))).toBe(made.fingerprint);
    const read = await readNodeCertificateRequest(made.csrPem);
    expect(read.nodeId).toBe('edge-1');
    expect(read.fingerprint).toBe(made.fingerprint);
    expect(Buffer.from(read.publicKeySpki).equals(Buffer.from(spkiOf(made.keyPem)))).toBe(true);
    // Two keys never share a fingerprint.
    expect((await createNodeKey('edge-1')).fingerprint).not.toBe(made.fingerprint);
  });

  it.each([
    ['not PEM', async () => 'hello', /not a PEM/],
    ['a P-384 key', async () => requestFor('CN=edge-1', { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' }), /P-256/],
    ['a subject that is not a node name', async () => requestFor('CN=Edge_1', { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }), /CN=<node id>/],
    ['no CN', async () => requestFor('O=HackStream', { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }), /CN=<node id>/],
  ])('refuses a request with %s', async (_what, make, message) => {
    const err = await readNodeCertificateRequest(await make()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeRequestError);
    expect((err as Error).message).toMatch(message);
  });

  it('refuses a request whose signature is not by the key it carries', async () => {
    const { csrPem } = await createNodeKey('edge-1');
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der.writeUInt8(der.readUInt8(der.length - 5) ^ 0xff, der.length - 5); // inside the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(readNodeCertificateRequest(tampered)).rejects.toThrow(/not signed by the key/);
  });
});

describe('a node token', () => {
  it('verifies with the key that signed it, for its node only', async () => {
    const a = await createNodeKey('edge-a');
    const b = await createNodeKey('edge-b');
    const token = await signNodeToken('edge-a', a.keyPem);
    expect(nodeTokenSubject(token)).toBe('edge-a');
    expect(await verifyNodeToken(token, 'edge-a', spkiOf(a.keyPem))).toBe(true);
    expect(await verifyNodeToken(token, 'edge-a', spkiOf(b.keyPem))).toBe(false);
    expect(await verifyNodeToken(token, 'edge-b', spkiOf(a.keyPem))).toBe(false);
  });

  it('is refused once old, and when made for another audience or with another algorithm', async () => {
    const a = await createNodeKey('edge-a');
    const spki = spkiOf(a.keyPem);
    expect(await verifyNodeToken(await signNodeToken('edge-a', a.keyPem, Date.now() - 10 * 60_000), 'edge-a', spki)).toBe(false);
    const key = createPrivateKey(a.keyPem);
    const otherAudience = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setSubject('edge-a').setAudience('hackstream-api').setIssuedAt().setExpirationTime('1m').sign(key);
    expect(await verifyNodeToken(otherAudience, 'edge-a', spki)).toBe(false);
    const hmac = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('edge-a').setAudience('hackstream-node-agent').setIssuedAt().setExpirationTime('1m').sign(Buffer.from(spki));
    expect(await verifyNodeToken(hmac, 'edge-a', spki)).toBe(false);
    expect(nodeTokenSubject('not a token')).toBeNull();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const bad = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('Bad Name').setIssuedAt().sign(rsa);
    expect(nodeTokenSubject(bad)).toBeNull();
  });
});
