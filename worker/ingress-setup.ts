/**
 * The ingress's own certificate, in Traefik's file-provider directory: issued by the HackStream
 * CA for the public host and domain, renewed when less than a third of its life remains. The
 * workers hold the CA's key, so they issue it; the API writes its own router and the ForwardAuth
 * middleware (api/ingress-routes.ts). Run by every worker at start; idempotent.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import type { CertificateIssuer, PermittedNames } from '../core/certificate-authority.js';
import { writeFileAtomically } from '../core/atomic-file.js';
import type { IngressConfig } from '../core/config.js';
import { sessionWebParent } from '../core/ingress-names.js';
import type { Logger } from '../core/logger.js';
import { dynamicConfigText, ingressTlsConfig, INGRESS_TLS_FILE, LEGACY_INGRESS_FILE, type TlsFiles } from '../core/traefik-dynamic-config.js';

const CERT_LIFETIME_SECONDS = 90 * 86_400;

/** The names the ingress certificate is for: the public host, the domain, and loopback for local clients. */
export function ingressNames(ingress: Pick<IngressConfig, 'publicHost' | 'domain'>): string[] {
  return [...new Set([ingress.publicHost, ingress.domain, 'localhost', '127.0.0.1'])];
}

/**
 * The names the ingress certificate carries: those above, and every session's browser host
 * (`<id>.web.sessions.<domain>`) through one wildcard, so a session starts without a certificate
 * of its own for the browser path.
 */
export function ingressCertificateNames(ingress: Pick<IngressConfig, 'publicHost' | 'domain'>): string[] {
  return [...ingressNames(ingress), `*.${sessionWebParent(ingress.domain)}`];
}

/** Whether a certificate covers a name; a wildcard by a name it stands for. */
const covers = (cert: X509Certificate, name: string): boolean =>
  isIP(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name.replace(/^\*\./, 'any.')) !== undefined;

/**
 * The CA's name constraints: the ingress's names, the domain's with all its subdomains (sessions
 * are `<id>.sessions.<domain>` and `<id>.web.sessions.<domain>`); nothing else. No wildcard here:
 * a permitted DNS name already admits all its subdomains.
 */
export function caPermittedNames(ingress: Pick<IngressConfig, 'publicHost' | 'domain'>): PermittedNames {
  return byKind(ingressNames(ingress));
}

/** Names as a certificate lists them: DNS names and IP addresses apart. */
const byKind = (names: string[]): PermittedNames => ({ dnsNames: names.filter((n) => !isIP(n)), ipAddresses: names.filter((n) => isIP(n)) });

async function ensureIngressCertificate(ca: CertificateIssuer, ingress: IngressConfig, logger: Logger): Promise<TlsFiles> {
  const certFile = path.join(ingress.tlsDir, 'ingress-cert.pem');
  const keyFile = path.join(ingress.tlsDir, 'ingress-key.pem');
  const names = ingressCertificateNames(ingress);
  try {
    const current = new X509Certificate(await readFile(certFile, 'utf8'));
    const remaining = new Date(current.validTo).getTime() - Date.now();
    // An older certificate without the sessions' browser hosts is replaced at once.
    const coversAll = names.every((n) => covers(current, n));
    const issuedByOurCa = current.checkIssued(new X509Certificate(await ca.caCertificatePem()));
    if (coversAll && issuedByOurCa && remaining > (CERT_LIFETIME_SECONDS * 1000) / 3) return { certFile, keyFile };
  } catch {
    // missing or unreadable: issue one
  }
  await mkdir(ingress.tlsDir, { recursive: true, mode: 0o700 });
  const issued = await ca.issueServerCertificate({
    commonName: ingress.domain,
    ...byKind(names),
    lifetimeSeconds: CERT_LIFETIME_SECONDS,
  });
  // Only Traefik reads them (as root, in the stack and in docker-compose.yml).
  await writeFileAtomically(keyFile, issued.keyPem, { mode: 0o600 });
  await writeFileAtomically(certFile, issued.certPem, { mode: 0o600 });
  logger.info('issued the ingress certificate', { names, notAfter: issued.notAfter.toISOString() });
  return { certFile, keyFile };
}

/**
 * Writes the ingress certificate's file, then removes the file older workers wrote: it also
 * defined the API's router and ForwardAuth middleware, which the API now writes itself, and of a
 * name defined in two files Traefik keeps only one. In that order, so the certificate never lapses.
 */
export async function prepareIngress(ca: CertificateIssuer, ingress: IngressConfig, logger: Logger): Promise<void> {
  const tls = await ensureIngressCertificate(ca, ingress, logger);
  await mkdir(ingress.routesDir, { recursive: true, mode: 0o700 });
  // Traefik runs as root: its routes need no reader besides it.
  await writeFileAtomically(path.join(ingress.routesDir, INGRESS_TLS_FILE), dynamicConfigText(ingressTlsConfig(tls)), { mode: 0o600 });
  await rm(path.join(ingress.routesDir, LEGACY_INGRESS_FILE), { force: true });
}
