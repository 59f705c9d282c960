/**
 * Opens the HackStream CA the worker issues with, creating it (name-constrained to what it serves,
 * see caPermittedNames) unless it exists. A CA from before name constraints is kept, since
 * devices pin its fingerprint, and reported once at start with how to rotate it (README, "The
 * HackStream CA").
 */
import { FileCertificateAuthority } from '../core/certificate-authority.js';
import type { IngressConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { caPermittedNames } from './ingress-setup.js';

export async function openCertificateAuthority(
  ingress: Pick<IngressConfig, 'caCertFile' | 'caKeyFile' | 'publicHost' | 'domain'>,
  logger: Pick<Logger, 'info' | 'warn'>,
): Promise<FileCertificateAuthority> {
  const permitted = caPermittedNames(ingress);
  const ca = new FileCertificateAuthority(ingress.caCertFile, ingress.caKeyFile, permitted);
  if ((await ca.ensure()).created) {
    logger.info('created the HackStream CA', { cert: ingress.caCertFile, permitted });
  } else if (!(await ca.isNameConstrained())) {
    logger.warn(
      'the HackStream CA has no name constraints: devices that trust it would accept a certificate it signed for any name. ' +
        'It keeps working; rotate it to get one limited to this installation\'s names (README, "Rotating the CA")',
      { cert: ingress.caCertFile, permitted },
    );
  }
  return ca;
}
