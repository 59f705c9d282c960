/**
 * A HackStream certificate authority: one ECDSA P-256 CA, created once (its key never leaves
 * its host, mode 600, directory 700), issuing short-lived certificates. There are two: the
 * sessions' CA (the workers': the ingress's and each session's xpra TLS certificate) and the
 * node CA (the API's: the session nodes' client certificates and the node gateway's server
 * certificate), so a key of one can never vouch for the other's peers. X.509 encoding by
 * @peculiar/x509 on WebCrypto.
 *
 * Devices trust this CA, so it is created with a critical Name Constraints extension permitting
 * only the names it serves: a stolen key, or a bug issuing for a name from a request, cannot
 * impersonate any other site to them. A CA created before that keeps working (devices pin its
 * fingerprint); `isNameConstrained()` lets the worker say so, and the README how to rotate it.
 */
import { randomBytes, webcrypto } from 'node:crypto';
import { constants, mkdirSync } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import { writeFileAtomically } from './atomic-file.js';
import { P256_ECDSA as ALGORITHM, privateKeyPem, x509 } from './x509.js';
const CA_LIFETIME_DAYS = 3650;
/** A CA creation lock older than this was left by a process that died while creating the CA. */
const STALE_LOCK_MS = 30_000;

/** Issued certificates start this much in the past, so that small clock skew does not reject them. */
const BACKDATE_MS = 5 * 60 * 1000;
const NAME_CONSTRAINTS_OID = '2.5.29.30';

/** What the CA may issue for: each DNS name with all its subdomains, each IP address alone. */
export interface PermittedNames {
  dnsNames: string[];
  ipAddresses: string[];
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

/** A client certificate for a key its holder keeps (the node's: only its public half is here). */
export interface ClientCertificateRequest {
  commonName: string;
  dnsNames: string[];
  /** The holder's public key, DER SubjectPublicKeyInfo. */
  publicKeySpki: Uint8Array;
  lifetimeSeconds: number;
}

export interface ServerCertificateRequest {
  commonName: string;
  dnsNames: string[];
  ipAddresses?: string[];
  /** Start of validity (epoch ms); default: a few minutes ago, for clock skew. */
  notBefore?: number;
  /** Validity from `notBefore`: the certificate lives exactly this long. */
  lifetimeSeconds: number;
}

/** What the activities need: certificates for servers, signed by the HackStream CA. */
export interface CertificateIssuer {
  issueServerCertificate(req: ServerCertificateRequest): Promise<IssuedCertificate>;
  issueServerCertificateFor(req: ServerCertificateRequest & { publicKeySpki: Uint8Array }): Promise<{ certPem: string; notAfter: Date }>;
  caCertificatePem(): Promise<string>;
}

/** One DER element; the name constraints stay far below 64 KiB. */
function derElement(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
}

/**
 * NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees }, each GeneralSubtree a
 * SEQUENCE holding one GeneralName (@peculiar/x509 encodes those; it has no class for the
 * extension). Critical, as RFC 5280 requires: a client that cannot enforce it must refuse.
 */
function nameConstraintsExtension(permitted: PermittedNames): x509.Extension {
  const names = [
    ...permitted.dnsNames.map((n) => new x509.GeneralName('dns', n.toLowerCase())),
    // An address with a host mask: exactly this address.
    ...permitted.ipAddresses.map((ip) => new x509.GeneralName('ip', `${ip}/${isIPv6(ip) ? 128 : 32}`)),
  ];
  if (names.length === 0) throw new Error('the CA needs at least one permitted name');
  const subtrees = names.map((name) => derElement(0x30, Buffer.from(name.rawData)));
  return new x509.Extension(NAME_CONSTRAINTS_OID, true, derElement(0x30, derElement(0xa0, Buffer.concat(subtrees))));
}

function fromPem(pem: string): ArrayBuffer {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const buf = Buffer.from(b64, 'base64');
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

const serialNumber = () => {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // positive
  return bytes.toString('hex');
};

type CryptoKey = webcrypto.CryptoKey;

interface LoadedCa {
  cert: x509.X509Certificate;
  key: CryptoKey;
  pem: string;
}

export class FileCertificateAuthority implements CertificateIssuer {
  private loaded: Promise<LoadedCa> | undefined;

  private readonly dir: string;

  constructor(
    readonly certPath: string,
    private readonly keyPath: string,
    /** Written into the CA when this creates it; an existing CA keeps what it has. */
    private readonly permitted: PermittedNames,
    /** The CA's own name, when this creates it. */
    private readonly subject = 'CN=HackStream CA, O=HackStream',
  ) {
    this.dir = path.dirname(keyPath);
  }

  /** Creates the CA unless it exists; safe when several processes start at once. */
  async ensure(): Promise<{ created: boolean }> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    try {
      await readFile(this.certPath, 'utf8');
      return { created: false };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // Exclusive lock file: exactly one process creates the CA; the others wait for it.
    const lock = path.join(this.dir, '.create.lock');
    let handle;
    try {
      handle = await open(lock, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Creating the CA takes well under a second: an old lock is a crashed creator's leftover.
      const age = await stat(lock).then((st) => Date.now() - st.mtimeMs, () => 0);
      if (age > STALE_LOCK_MS) {
        await rm(lock, { force: true });
        return this.ensure();
      }
      for (let i = 0; i < 100; i++) {
        try {
          await readFile(this.certPath, 'utf8');
          return { created: false };
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error(`the CA in ${this.dir} is being created by another process that did not finish (remove ${lock} if it died)`, {
        cause: err,
      });
    }
    try {
      const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']));
      const now = Date.now();
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: serialNumber(),
        name: this.subject,
        notBefore: new Date(now - BACKDATE_MS),
        notAfter: new Date(now + CA_LIFETIME_DAYS * 86_400_000),
        keys,
        signingAlgorithm: ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
          nameConstraintsExtension(this.permitted),
        ],
      });
      const keyPem = privateKeyPem(keys.privateKey);
      await writeFileAtomically(this.keyPath, keyPem, { mode: 0o600 });
      // The certificate last: its presence means the CA is complete.
      // Public on purpose (served at /ca.pem, mounted into the API by docker-compose.yml).
      await writeFileAtomically(this.certPath, cert.toString('pem') + '\n', { mode: 0o644 });
      return { created: true };
    } finally {
      await handle.close();
      await rm(lock, { force: true });
    }
  }

  /** False for a CA created before name constraints: it can sign for any name. */
  async isNameConstrained(): Promise<boolean> {
    return (await this.load()).cert.getExtension(NAME_CONSTRAINTS_OID) !== null;
  }

  async caCertificatePem(): Promise<string> {
    return (await this.load()).pem;
  }

  async issueServerCertificate(req: ServerCertificateRequest): Promise<IssuedCertificate> {
    const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
    const names = [
      ...req.dnsNames.map((value) => ({ type: 'dns' as const, value })),
      ...(req.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ];
    const issued = await this.sign({ ...req, publicKey: keys.publicKey, names, usage: x509.ExtendedKeyUsage.serverAuth });
    return { ...issued, keyPem: privateKeyPem(keys.privateKey) };
  }

  /**
   * A server certificate for a key this CA never sees (a session's, made on its node): TLS server
   * authentication only, for the names the caller decides.
   */
  async issueServerCertificateFor(req: ServerCertificateRequest & { publicKeySpki: Uint8Array }): Promise<{ certPem: string; notAfter: Date }> {
    const names = [...req.dnsNames.map((value) => ({ type: 'dns' as const, value })), ...(req.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value }))];
    return this.sign({ ...req, publicKey: new x509.PublicKey(Buffer.from(req.publicKeySpki)), names, usage: x509.ExtendedKeyUsage.serverAuth });
  }

  /** A client certificate (TLS client authentication only) for a public key checked by the caller. */
  async issueClientCertificate(req: ClientCertificateRequest): Promise<{ certPem: string; notAfter: Date }> {
    const names = req.dnsNames.map((value) => ({ type: 'dns' as const, value }));
    return this.sign({ ...req, publicKey: new x509.PublicKey(Buffer.from(req.publicKeySpki)), names, usage: x509.ExtendedKeyUsage.clientAuth });
  }

  /** An end-entity certificate for one TLS role, signed by this CA. */
  private async sign(req: {
    commonName: string;
    publicKey: CryptoKey | x509.PublicKey;
    names: Array<{ type: 'dns' | 'ip'; value: string }>;
    usage: x509.ExtendedKeyUsage;
    notBefore?: number | undefined;
    lifetimeSeconds: number;
  }): Promise<{ certPem: string; notAfter: Date }> {
    const ca = await this.load();
    const notBefore = req.notBefore ?? Date.now() - BACKDATE_MS;
    const notAfter = new Date(notBefore + req.lifetimeSeconds * 1000);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: `CN=${req.commonName}`,
      issuer: ca.cert.subject,
      notBefore: new Date(notBefore),
      notAfter,
      publicKey: req.publicKey,
      signingKey: ca.key,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([req.usage], false),
        new x509.SubjectAlternativeNameExtension(req.names, false),
        await x509.SubjectKeyIdentifierExtension.create(req.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
      ],
    });
    return { certPem: cert.toString('pem') + '\n', notAfter };
  }

  private load(): Promise<LoadedCa> {
    this.loaded ??= (async () => {
      const pem = await readFile(this.certPath, 'utf8');
      const keyPem = await readFile(this.keyPath, 'utf8');
      const key = await webcrypto.subtle.importKey('pkcs8', fromPem(keyPem), ALGORITHM, false, ['sign']);
      return { cert: new x509.X509Certificate(pem), key, pem };
    })();
    return this.loaded;
  }
}
