/**
 * HTTPS requests through the ingress that trust the HackStream CA (and nothing is ignored:
 * a certificate that does not chain to it, or names another host, fails the request).
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export function httpsRequest(
  url: string,
  opts: { caFile: string; method?: string; headers?: Record<string, string>; body?: string },
): Promise<HttpsResponse> {
  const ca = readFileSync(opts.caFile, 'utf8');
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: opts.method ?? 'GET', headers: opts.headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}
