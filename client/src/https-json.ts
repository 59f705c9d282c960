/**
 * JSON over HTTPS with Node's own `https` (Node 18's fetch takes no custom CA without undici).
 * Every failure becomes a ClientError a person can act on: unreachable, untrusted, or the
 * server's own `{error: {code, message}}`.
 */
import https from 'node:https';
import { ClientError } from './client-error.js';
import { EXIT } from './exit-codes.js';

export interface TlsTrust {
  /** CA certificates (PEM) to trust instead of the default store; undefined: the default store. */
  ca?: string[];
  /** Only to read /ca.pem from a server not trusted yet, to show its fingerprint. */
  insecure?: boolean;
}

export interface JsonResponse {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** Node's codes for a certificate chain that does not lead to a trusted CA. */
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

export class UntrustedServerError extends ClientError {
  constructor(
    readonly server: string,
    readonly reason: string,
  ) {
    super(`the certificate of ${server} is not trusted (${reason}): run \`hackstream login --ca FILE\` with the server's CA, or log in on a terminal to check its fingerprint`, EXIT.unreachable);
  }
}

export class UnreachableError extends ClientError {
  constructor(server: string, reason: string) {
    super(`cannot reach ${server}: ${reason}`, EXIT.unreachable);
  }
}

export function requestJson(
  origin: string,
  method: string,
  path: string,
  opts: { trust: TlsTrust; body?: unknown; headers?: Record<string, string>; timeoutMs?: number; accept?: string },
): Promise<JsonResponse & { text: string }> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = { accept: opts.accept ?? 'application/json', 'user-agent': `hackstream-client`, ...opts.headers };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, origin), {
      method,
      headers,
      ca: opts.trust.ca,
      rejectUnauthorized: !opts.trust.insecure,
      timeout: opts.timeoutMs ?? 30_000,
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (UNTRUSTED_CODES.has(code)) reject(new UntrustedServerError(origin, code));
      else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') reject(new ClientError(`the certificate of ${origin} is for another name (${err.message})`, EXIT.unreachable));
      else reject(new UnreachableError(origin, code || err.message));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(new UnreachableError(origin, err.message)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        if ((res.headers['content-type'] ?? '').includes('json') && text) {
          try {
            body = JSON.parse(text);
          } catch {
            /* keep the text */
          }
        }
        resolve({ status: res.statusCode ?? 0, body, text, headers: res.headers });
      });
    });
    req.end(payload);
  });
}

/** The server's `{error: {code, message}}`, or a generic one built from the status. */
export function serverError(res: JsonResponse): { code: string; message: string } {
  const err = (res.body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (err && typeof err.code === 'string' && typeof err.message === 'string') return { code: err.code, message: err.message };
  return { code: `http_${res.status}`, message: `the server answered HTTP ${res.status}` };
}
