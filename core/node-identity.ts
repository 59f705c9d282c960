/**
 * An enrolled node's identity: the key pair it generates itself (ECDSA P-256; the private half
 * never leaves the node), the fingerprint an admin compares out of band before approving it, the
 * certificate request it enrols with, and the names on the node CA's certificates. What the node
 * (`worker/node-enrolment.ts`), the API (`api/nodes/`) and the node gateway share.
 */
import { createHash, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { SignJWT, decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import { FileCertificateAuthority } from './certificate-authority.js';
import type { NodeAuthorityConfig } from './config.js';
import { NODE_ID_PATTERN } from './node-names.js';
import { P256_ECDSA, privateKeyPem, x509 } from './x509.js';

/** The node CA's names all sit under this subdomain of HACKSTREAM_DOMAIN (its name constraint). */
export const nodeNamesDomain = (domain: string) => `nodes.${domain}`;
/** The name on the node gateway's server certificate, which nodes check. */
export const nodeGatewayName = (domain: string) => `gateway.${nodeNamesDomain(domain)}`;
/** The sessions' domain of a gateway's name (what a node is told), or null when it is no gateway's name. */
export const domainOfGatewayName = (name: string): string | null => {
  const prefix = nodeGatewayName('');
  return name.startsWith(prefix) && name.length > prefix.length ? name.slice(prefix.length) : null;
};
/** The name on a node's client certificate (its subject's CN is the node's id). */
export const nodeCertificateName = (nodeId: string, domain: string) => `${nodeId}.${nodeNamesDomain(domain)}`;

/** OpenSSH's form, which operators already compare: `SHA256:` and the unpadded base64 digest of the key. */
export function keyFingerprint(spki: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(spki).digest('base64').replace(/=+$/, '')}`;
}

export class NodeRequestError extends Error {}

export interface NodeCertificateRequest {
  nodeId: string;
  /** DER SubjectPublicKeyInfo. */
  publicKeySpki: Uint8Array;
  fingerprint: string;
}

/**
 * A node's PKCS#10 request, checked: well formed, signed by the key it carries (the node holds
 * it), a P-256 key, and a subject naming a valid node id. Throws NodeRequestError saying which.
 */
export async function readNodeCertificateRequest(pem: string): Promise<NodeCertificateRequest> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch {
    throw new NodeRequestError('not a PEM certificate request (PKCS#10)');
  }
  const algorithm = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') throw new NodeRequestError('the key must be ECDSA P-256');
  if (!(await csr.verify().catch(() => false))) throw new NodeRequestError('the request is not signed by the key it carries');
  const cn = csr.subjectName.getField('CN');
  if (cn.length !== 1 || !NODE_ID_PATTERN.test(cn[0]!)) {
    throw new NodeRequestError('the subject must be CN=<node id> (lower-case letters, digits and dashes, at most 63)');
  }
  const publicKeySpki = new Uint8Array(csr.publicKey.rawData);
  return { nodeId: cn[0]!, publicKeySpki, fingerprint: keyFingerprint(publicKeySpki) };
}

/** What a node makes at enrolment: its key pair and the request carrying the public half. */
export async function createNodeKey(nodeId: string): Promise<{ keyPem: string; csrPem: string; fingerprint: string }> {
  const keys = await webcrypto.subtle.generateKey(P256_ECDSA, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${nodeId}`, keys, signingAlgorithm: P256_ECDSA });
  return { keyPem: privateKeyPem(keys.privateKey), csrPem: csr.toString('pem') + '\n', fingerprint: keyFingerprint(new Uint8Array(csr.publicKey.rawData)) };
}

/**
 * A node's requests to the API (its certificate, later its heartbeats) carry a short JWT signed
 * with its key: nothing the API has to store or hand out, and only the holder of the key enrolled
 * under that name can make one.
 */
export const NODE_TOKEN_AUDIENCE = 'hackstream-node-agent';
export const NODE_TOKEN_MAX_AGE_SECONDS = 300;

export async function signNodeToken(nodeId: string, keyPem: string, now = Date.now()): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setSubject(nodeId)
    .setAudience(NODE_TOKEN_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .sign(createPrivateKey(keyPem));
}

/** The node a token names (unverified: to find the key it must be verified with), or null. */
export function nodeTokenSubject(token: string): string | null {
  try {
    const sub = decodeJwt(token).sub;
    return sub !== undefined && NODE_ID_PATTERN.test(sub) ? sub : null;
  } catch {
    return null;
  }
}

/** Whether the token is signed by this key, for this node, and fresh. */
export async function verifyNodeToken(token: string, nodeId: string, publicKeySpki: Uint8Array): Promise<boolean> {
  const key = createPublicKey({ key: Buffer.from(publicKeySpki), format: 'der', type: 'spki' });
  try {
    await jwtVerify(token, key, { algorithms: ['ES256'], audience: NODE_TOKEN_AUDIENCE, subject: nodeId, maxTokenAge: NODE_TOKEN_MAX_AGE_SECONDS, requiredClaims: ['exp', 'iat'] });
    return true;
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) return false;
    throw err;
  }
}

/** The node CA (its key on the control host: the API issues nodes' certificates, the gateway its own). */
export function nodeCertificateAuthority(config: Pick<NodeAuthorityConfig, 'caCertFile' | 'caKeyFile' | 'domain'>): FileCertificateAuthority {
  return new FileCertificateAuthority(config.caCertFile, config.caKeyFile, { dnsNames: [nodeNamesDomain(config.domain)], ipAddresses: [] }, 'CN=HackStream node CA, O=HackStream');
}
