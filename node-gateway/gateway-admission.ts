/**
 * Who the node gateway lets in, and the certificate it shows: both from the control plane's own
 * records (the node registry, the node CA), so the gateway needs no state of its own.
 */
import type { FileCertificateAuthority } from '../core/certificate-authority.js';
import type { NodeAuthorityConfig } from '../core/config.js';
import { nodeGatewayName } from '../core/node-identity.js';
import type { NodeRegistry } from '../core/node-registry.js';
import { CONNECTABLE_NODE_STATES } from '../core/node-names.js';
import type { GatewayCredentials } from './node-gateway.js';

const GATEWAY_CERT_LIFETIME_SECONDS = 7 * 86_400;
/** The gateway's certificate is renewed this often, well within its lifetime. */
export const GATEWAY_CERT_RENEW_MS = 86_400_000;

export function admitsNode(registry: Pick<NodeRegistry, 'identity'>) {
  return async (nodeId: string, fingerprint: string): Promise<boolean> => {
    const identity = await registry.identity(nodeId);
    return identity !== null && identity.fingerprint === fingerprint && CONNECTABLE_NODE_STATES.includes(identity.state);
  };
}

export async function gatewayCredentials(ca: Pick<FileCertificateAuthority, 'ensure' | 'issueServerCertificate' | 'caCertificatePem'>, config: Pick<NodeAuthorityConfig, 'domain'>): Promise<GatewayCredentials> {
  await ca.ensure();
  const name = nodeGatewayName(config.domain);
  const issued = await ca.issueServerCertificate({ commonName: name, dnsNames: [name], lifetimeSeconds: GATEWAY_CERT_LIFETIME_SECONDS });
  return { certPem: issued.certPem, keyPem: issued.keyPem, caPem: await ca.caCertificatePem() };
}
