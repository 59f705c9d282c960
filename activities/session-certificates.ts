/**
 * A session's TLS key and certificate, split between its node and the control plane: the key is
 * made on the session's node and never leaves it (`createSessionKey`, `installSessionCertificate`,
 * on the node's queue); the HackStream CA, whose key stays on the control hosts, certifies its
 * public half (`signSessionCertificate`, on the control queue). A session node needs no copy of
 * the CA. Every step is idempotent: a retry gets the same key, and keeps files already written.
 */
import { createPublicKey } from 'node:crypto';
import type { CertificateIssuer } from '../core/certificate-authority.js';
import { sessionTlsName } from '../core/ingress-names.js';
import { sessionPublicKeyHex } from '../core/session-token-key.js';
import type { SessionFiles } from './session-files.js';

/** The node's half: the session's key and files on its host. */
export interface SessionKeyDeps {
  files: Pick<SessionFiles, 'currentKey' | 'pendingKey' | 'removePendingKey' | 'currentCertificate' | 'write' | 'writeTokenPublicKey'>;
}

/** The control queue's half: the HackStream CA. */
export interface CertificateSigningDeps {
  certificates: Pick<CertificateIssuer, 'issueServerCertificateFor'>;
  /** Sessions' TLS names are `<id>.sessions.<domain>`. */
  domain: string;
  sessionTokenSecret: string;
}

export type SessionCertificateDeps = SessionKeyDeps & CertificateSigningDeps;

export function sessionCertificateActivities(deps: SessionCertificateDeps) {
  return { ...sessionKeyActivities(deps), ...certificateSigningActivities(deps) };
}

/** On the session's node. */
export function sessionKeyActivities(deps: SessionKeyDeps) {
  const { files } = deps;
  return {
    /**
     * On the session's node: its TLS key, made here and kept here (a retry gets the same one);
     * only the public half goes back to the workflow, to be certified on the control queue.
     */
    async createSessionKey(input: { sessionId: string }): Promise<{ publicKeySpki: string }> {
      const keyPem = (await files.currentKey(input.sessionId)) ?? (await files.pendingKey(input.sessionId));
      return { publicKeySpki: createPublicKey(keyPem).export({ type: 'spki', format: 'der' }).toString('base64') };
    },

    /**
     * On the session's node: the certificate with the key it made, where the container will mount
     * them, and the session's token public key (none for a warm container: it admits nobody until
     * a session claims it).
     */
    async installSessionCertificate(input: { sessionId: string; certPem: string; tokenPublicKeyHex?: string }): Promise<void> {
      const { sessionId, tokenPublicKeyHex } = input;
      // A retry after the files were written keeps them.
      if (await files.currentCertificate(sessionId)) return tokenPublicKeyHex ? files.writeTokenPublicKey(sessionId, tokenPublicKeyHex) : undefined;
      await files.write(sessionId, { certPem: input.certPem, keyPem: await files.pendingKey(sessionId), ...(tokenPublicKeyHex ? { tokenPublicKeyHex } : {}) });
      await files.removePendingKey(sessionId);
    },
  };
}

/** On the control queue, where the HackStream CA's key is. */
export function certificateSigningActivities(deps: CertificateSigningDeps) {
  return {
    /**
     * The session's certificate for the key its node made (its name `<id>.sessions.<domain>`, valid from the session's start for at
     * most its maximum duration), and its token public key, both public.
     */
    async signSessionCertificate(input: { sessionId: string; publicKeySpki: string; notBefore: number; lifetimeSeconds: number }): Promise<{ certPem: string; tokenPublicKeyHex: string }> {
      const tlsName = sessionTlsName(input.sessionId, deps.domain);
      const issued = await deps.certificates.issueServerCertificateFor({
        commonName: tlsName,
        dnsNames: [tlsName],
        notBefore: input.notBefore,
        lifetimeSeconds: input.lifetimeSeconds,
        publicKeySpki: new Uint8Array(Buffer.from(input.publicKeySpki, 'base64')),
      });
      return { certPem: issued.certPem, tokenPublicKeyHex: sessionPublicKeyHex(deps.sessionTokenSecret, input.sessionId) };
    },
  };
}
