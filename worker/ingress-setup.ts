/**
 * Prepares what Traefik serves besides sessions, in its file-provider directory: the ingress
 * certificate (issued by the HackStream CA for the public host and domain, renewed when less
 * than a third of its life remains), the API's router, and the ForwardAuth middleware that
 * session routes use. Run by every worker at start; idempotent.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import type { CertificateIssuer } from '../activities/certificate-authority.js';
import { writeFileAtomically } from '../core/atomic-file.js';
import { CONNECT_AUTH_MIDDLEWARE, CONNECT_AUTH_PATH, ENTRYPOINT, RESUME_COOKIE } from '../core/ingress-names.js';
import type { IngressConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';

export const INGRESS_FILE = 'hackstream-ingress.yml';
const CERT_LIFETIME_SECONDS = 90 * 86_400;

async function ensureIngressCertificate(ca: CertificateIssuer, ingress: IngressConfig, logger: Logger) {
  const certFile = path.join(ingress.tlsDir, 'ingress-cert.pem');
  const keyFile = path.join(ingress.tlsDir, 'ingress-key.pem');
  const names = [...new Set([ingress.publicHost, ingress.domain, 'localhost', '127.0.0.1'])];
  try {
    const current = new X509Certificate(await readFile(certFile, 'utf8'));
    const remaining = new Date(current.validTo).getTime() - Date.now();
    const covers = names.every((n) => (isIP(n) ? current.checkIP(n) : current.checkHost(n)));
    const issuedByOurCa = current.checkIssued(new X509Certificate(await ca.caCertificatePem()));
    if (covers && issuedByOurCa && remaining > (CERT_LIFETIME_SECONDS * 1000) / 3) return { certFile, keyFile };
  } catch {
    // missing or unreadable: issue one
  }
  await mkdir(ingress.tlsDir, { recursive: true, mode: 0o700 });
  const issued = await ca.issueServerCertificate({
    commonName: ingress.domain,
    dnsNames: names.filter((n) => !isIP(n)),
    ipAddresses: names.filter((n) => isIP(n)),
    lifetimeSeconds: CERT_LIFETIME_SECONDS,
  });
  await writeFileAtomically(keyFile, issued.keyPem, { mode: 0o600 });
  await writeFileAtomically(certFile, issued.certPem, { mode: 0o644 });
  logger.info('issued the ingress certificate', { names, notAfter: issued.notAfter.toISOString() });
  return { certFile, keyFile };
}

/** Traefik's dynamic configuration for the ingress itself (see activities/traefik-routes.ts for sessions). */
export function ingressConfig(ingress: IngressConfig, tls: { certFile: string; keyFile: string }): object {
  const [middlewareName] = CONNECT_AUTH_MIDDLEWARE.split('@');
  return {
    tls: {
      certificates: [tls],
      stores: { default: { defaultCertificate: tls } },
      options: { default: { minVersion: 'VersionTLS12', sniStrict: false } },
    },
    http: {
      routers: {
        'hackstream-api': {
          entryPoints: [ENTRYPOINT],
          rule: 'PathPrefix(`/v1/`) || PathPrefix(`/apt/`) || Path(`/health`) || Path(`/ready`) || Path(`/ca.pem`)',
          service: 'hackstream-api',
          tls: {},
        },
      },
      middlewares: {
        [middlewareName!]: {
          forwardAuth: {
            address: `${ingress.apiUpstream}${CONNECT_AUTH_PATH}`,
            // Only Traefik's own view of the request counts, never headers a client sent.
            trustForwardHeader: false,
            maxResponseBodySize: 4096,
            addAuthCookiesToResponse: [RESUME_COOKIE],
          },
        },
      },
      services: { 'hackstream-api': { loadBalancer: { servers: [{ url: ingress.apiUpstream }] } } },
    },
  };
}

export async function prepareIngress(ca: CertificateIssuer, ingress: IngressConfig, logger: Logger): Promise<void> {
  const tls = await ensureIngressCertificate(ca, ingress, logger);
  await mkdir(ingress.routesDir, { recursive: true });
  await writeFileAtomically(path.join(ingress.routesDir, INGRESS_FILE), `${JSON.stringify(ingressConfig(ingress, tls), null, 2)}\n`, { mode: 0o644 });
}
