/**
 * @peculiar/x509, set up once for Node (its dependency injection needs the Reflect API; its
 * crypto is Node's WebCrypto), and the one key algorithm HackStream's certificates and keys use:
 * what both certificate authorities (certificate-authority.ts) and a node's key
 * (node-identity.ts) build on.
 */
import 'reflect-metadata';
import { KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// @peculiar/x509 is typed against the DOM's WebCrypto; Node's is the same API.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/** ECDSA on P-256 with SHA-256: every HackStream key pair and signature. */
export const P256_ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A WebCrypto private key as PEM PKCS#8. */
export function privateKeyPem(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}
