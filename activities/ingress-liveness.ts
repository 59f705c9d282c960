/**
 * Whether the ingress serves a session's routes yet, asked of the ingress itself: the browser
 * route answers something other than 404 (the ForwardAuth check refuses a request without a
 * token), and a TLS handshake with the session's name reaches the session's own certificate
 * instead of the ingress's default one. The same check whichever way the routes were given to
 * Traefik (a file on a host, objects on Kubernetes).
 */
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { sessionTlsName, sessionWebHost } from '../core/ingress-names.js';

export interface IngressProbe {
  host: string;
  port: number;
  /** The HackStream CA, to verify what the ingress and the session present. */
  caPem: () => Promise<string>;
}

/**
 * Who certifies the ingress's own name for the browser host: the HackStream CA (a host's Traefik,
 * worker/ingress-setup.ts), or whoever the operator chose (a cluster's ingress: cert-manager, a
 * public CA), whose certificate is then not checked here: the session's own, passed through, is.
 */
export type BrowserHostIssuer = 'hackstream' | 'operator';

/** Resolves once the ingress serves both of the session's routes; fails at `timeoutMs`. */
export async function untilRoutesLive(probe: IngressProbe, domain: string, sessionId: string, timeoutMs = 15_000, browserHost: BrowserHostIssuer = 'hackstream'): Promise<void> {
  const ca = await probe.caPem();
  const deadline = Date.now() + timeoutMs;
  let httpLive = false;
  let tlsLive = false;
  for (;;) {
    httpLive ||= (await httpStatus(probe, sessionWebHost(sessionId, domain), browserHost === 'hackstream' ? ca : null)) !== 404;
    tlsLive ||= (await presentedName(probe, sessionTlsName(sessionId, domain), ca)) === sessionTlsName(sessionId, domain);
    if (httpLive && tlsLive) return;
    if (Date.now() > deadline) {
      throw new Error(`the ingress at ${probe.host}:${probe.port} did not serve the routes of session ${sessionId} within ${timeoutMs} ms (browser ${httpLive}, native ${tlsLive})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The status of `GET /` on this host, asked of the probe address (no DNS needed); 0 when there
 * was no answer. `ca` null: any certificate will do (only the status is wanted).
 */
export function httpStatus(probe: Pick<IngressProbe, 'host' | 'port'>, host: string, ca: string | null): Promise<number> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: probe.host,
        port: probe.port,
        servername: host,
        headers: { host },
        path: '/',
        method: 'GET',
        // With a CA: the chain must be ours, the name the session's browser host.
        ...(ca === null ? { rejectUnauthorized: false } : { ca, checkServerIdentity: (_name: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(host, cert) }),
        timeout: 2000,
        agent: false,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    // A destroyed request may close without an error event: an answer either way (a second
    // resolve is a no-op), or waitUntilLive would wait on it past its deadline, for ever.
    req.on('close', () => resolve(0));
    req.end();
  });
}

/** The DNS name of the certificate presented for this SNI, or null. */
function presentedName(probe: IngressProbe, servername: string, ca: string): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: probe.host, port: probe.port, servername, ca, timeout: 2000 }, () => {
      const raw = socket.getPeerX509Certificate();
      socket.destroy();
      resolve(raw && new X509Certificate(raw.raw).checkHost(servername) ? servername : null);
    });
    socket.on('error', () => resolve(null));
    // destroy() closes the socket without an error event: a handshake that stalls past the
    // timeout must still answer (a second resolve is a no-op).
    socket.on('timeout', () => socket.destroy());
    socket.on('close', () => resolve(null));
  });
}
