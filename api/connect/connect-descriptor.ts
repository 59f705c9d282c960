/**
 * What a client needs to attach to a running session, with fresh one-time credentials:
 * - browser: an HTTPS URL of xpra's HTML5 client behind Traefik, on the session's own origin
 *   (`https://<id>.web.sessions.<domain>[:port]/`), carrying a connect token;
 * - native: host, port and SNI name for `xpra attach ssl://…` through Traefik's TLS passthrough,
 *   a one-time username/password, and the CA fingerprint to pin.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ApiConfig } from '../../core/config.js';
import { QUALITY_PRESETS } from '../../core/quality-presets.js';
import type { Quality } from '../../workflows/messages.js';
import { HttpError } from '../http-error.js';
import { sessionTlsName, sessionWebHost } from '../../core/ingress-names.js';
import type { ConnectCredentials } from '../../core/connect-credentials.js';
import { mintNativeToken } from './native-tokens.js';
import type { ConnectDescriptor } from '../contract/responses.js';

export type { ConnectDescriptor };

export class ConnectDescriptors {
  private caFingerprint: Promise<string> | undefined;

  constructor(
    private readonly config: ApiConfig,
    private readonly tokens: ConnectCredentials,
  ) {}

  async issue(session: { sessionId: string; userId: string; quality: Quality }): Promise<ConnectDescriptor> {
    const { ingress, connectTokenTtlSeconds, sessionTokenSecret } = this.config;
    const host = ingress.publicHost.includes(':') ? `[${ingress.publicHost}]` : ingress.publicHost;
    const port = ingress.publicPort === 443 ? '' : `:${ingress.publicPort}`;
    const authority = `${host}${port}`;
    const origin = `https://${authority}`;
    const [fingerprint, browserToken] = await Promise.all([
      this.fingerprint(),
      this.tokens.issueToken(session.sessionId, session.userId),
    ]);
    const native = mintNativeToken(sessionTokenSecret, session.sessionId, connectTokenTtlSeconds);
    const query = new URLSearchParams({ ...QUALITY_PRESETS[session.quality].html5Client, token: browserToken.value });
    return {
      expires_at: browserToken.expiresAt.toISOString(),
      app_link: `hackstream://${authority}/sessions/${session.sessionId}`,
      browser: { url: `https://${sessionWebHost(session.sessionId, ingress.domain)}${port}/?${query.toString()}` },
      native: {
        uri: `ssl://${native.username}@${host}:${ingress.publicPort}/`,
        host: ingress.publicHost,
        port: ingress.publicPort,
        sni: sessionTlsName(session.sessionId, ingress.domain),
        username: native.username,
        password: native.password,
        ca_url: `${origin}/ca.pem`,
        ca_fingerprint_sha256: fingerprint,
      },
    };
  }

  async caCertificatePem(): Promise<string> {
    try {
      return await readFile(this.config.ingress.caCertFile, 'utf8');
    } catch {
      throw new HttpError(503, 'ca_unavailable', 'the HackStream CA has not been created yet (start the worker or run stack/up.sh)');
    }
  }

  private fingerprint(): Promise<string> {
    // Colon-separated upper-case hex, as `openssl x509 -fingerprint -sha256` prints it.
    this.caFingerprint ??= this.caCertificatePem().then((pem) => new X509Certificate(pem).fingerprint256);
    this.caFingerprint.catch(() => (this.caFingerprint = undefined));
    return this.caFingerprint;
  }
}
