/**
 * Which certificates the client trusts for a server. A server whose certificate the system store
 * accepts needs nothing. Otherwise the HackStream CA it serves at /ca.pem is shown by its
 * SHA-256 fingerprint and, once the person accepts it (or passes `--ca FILE`), pinned for that
 * server: from then on only that CA is trusted for it. The native xpra path always needs the
 * HackStream CA (it signs each session's certificate); it is checked against the fingerprint in
 * the connect descriptor before xpra sees it.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { ClientError, usageError } from './client-error.js';
import type { ClientPaths } from './client-paths.js';
import { EXIT } from './exit-codes.js';
import { requestJson, UntrustedServerError, type TlsTrust } from './https-json.js';
import { readOptionalFile, writePrivateFile } from './private-files.js';

/** The certificate bundle Debian's ca-certificates maintains (also what `update-ca-certificates` adds to). */
const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

let systemCas: string[] | undefined;
/**
 * Node's bundled roots plus the system's bundle (where an operator's own CA lands after
 * `update-ca-certificates`); Node alone would not look at the latter. Undefined: Node's default.
 */
function systemStore(): string[] | undefined {
  if (!existsSync(SYSTEM_BUNDLE)) return undefined;
  systemCas ??= [...tls.rootCertificates, readFileSync(SYSTEM_BUNDLE, 'utf8')];
  return systemCas;
}

/** `trust/<host>_<port><suffix>`: a server's pinned CA (`.pem`) or its sessions' CA (`.sessions.pem`). */
const trustFile = (paths: ClientPaths, origin: string, suffix: '.pem' | '.sessions.pem'): string =>
  path.join(paths.trustDir, `${new URL(origin).host.replace(/[^\w.-]/g, '_')}${suffix}`);
const pinFile = (paths: ClientPaths, origin: string): string => trustFile(paths, origin, '.pem');

export function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** Parses a PEM CA certificate, with a message naming where it came from. */
export function parseCaPem(pem: string, source: string): string {
  try {
    const cert = new X509Certificate(pem);
    if (!cert.ca) throw new Error('it is not a CA certificate');
    return cert.toString();
  } catch (err) {
    throw usageError(`${source}: not a PEM CA certificate (${(err as Error).message})`);
  }
}

export class ServerTrust {
  constructor(private readonly paths: ClientPaths) {}

  /** What to trust for requests to `origin`: its pinned CA, or the system store. */
  trustFor(origin: string): TlsTrust {
    const pinned = readOptionalFile(pinFile(this.paths, origin));
    if (pinned !== undefined) return { ca: [pinned] };
    return { ca: systemStore() };
  }

  pinned(origin: string): string | undefined {
    return readOptionalFile(pinFile(this.paths, origin));
  }

  pin(origin: string, pem: string): void {
    writePrivateFile(pinFile(this.paths, origin), pem);
  }

  /** Pins the CA in `file` for `origin` (non-interactive `--ca FILE`). */
  pinFromFile(origin: string, file: string): void {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (err) {
      throw usageError(`--ca ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    this.pin(origin, parseCaPem(pem, `--ca ${file}`));
  }

  /**
   * Makes sure requests to `origin` will be trusted: fine as it is, or after the person accepts
   * the fingerprint of the CA the server offers (`confirm` is not called when there is no one
   * to ask: then the caller's error says to pass --ca).
   */
  async establish(origin: string, confirm: ((fingerprint: string) => Promise<boolean>) | undefined): Promise<void> {
    try {
      await requestJson(origin, 'GET', '/health', { trust: this.trustFor(origin), timeoutMs: 15_000 });
      return;
    } catch (err) {
      if (!(err instanceof UntrustedServerError) || this.pinned(origin) !== undefined) throw err;
      if (!confirm) throw err;
    }
    const offered = await requestJson(origin, 'GET', '/ca.pem', { trust: { insecure: true }, accept: 'application/x-pem-file', timeoutMs: 15_000 });
    if (offered.status !== 200) throw new ClientError(`${origin} is not trusted and serves no CA at /ca.pem (HTTP ${offered.status}); pass --ca FILE`, EXIT.unreachable);
    const pem = parseCaPem(offered.text, `${origin}/ca.pem`);
    // The offered CA must really be the one that signed the server's certificate.
    try {
      await requestJson(origin, 'GET', '/health', { trust: { ca: [pem] }, timeoutMs: 15_000 });
    } catch {
      throw new ClientError(`the CA ${origin} offers did not sign its certificate; not trusting it`, EXIT.unreachable);
    }
    if (!(await confirm(fingerprint(pem)))) throw new ClientError('server not trusted: nothing was saved', EXIT.cancelled);
    this.pin(origin, pem);
  }

  /**
   * A file with the HackStream CA whose fingerprint the connect descriptor names, for xpra's
   * --ssl-ca-certs: the pinned CA when it is that one, else /ca.pem fetched over the trusted API
   * connection and checked.
   */
  async sessionCaFile(origin: string, caUrl: string, expectedFingerprint: string): Promise<string> {
    const file = trustFile(this.paths, origin, '.sessions.pem');
    for (const candidate of [pinFile(this.paths, origin), file]) {
      const pem = readOptionalFile(candidate);
      if (pem !== undefined && fingerprint(pem) === expectedFingerprint) return candidate;
    }
    const url = new URL(caUrl);
    const res = await requestJson(url.origin, 'GET', url.pathname, { trust: this.trustFor(origin), accept: 'application/x-pem-file' });
    if (res.status !== 200) throw new ClientError(`could not fetch the session CA from ${caUrl} (HTTP ${res.status})`, EXIT.attachFailed);
    const pem = parseCaPem(res.text, caUrl);
    if (fingerprint(pem) !== expectedFingerprint) {
      throw new ClientError(`the session CA from ${caUrl} does not match the fingerprint the server announced; not attaching`, EXIT.attachFailed);
    }
    writePrivateFile(file, pem);
    return file;
  }
}
