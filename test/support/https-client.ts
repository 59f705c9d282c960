/**
 * HTTPS requests through the ingress that trust the HackStream CA (and nothing is ignored:
 * a certificate that does not chain to it, or names another host, fails the request).
 */
import dns from 'node:dns';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { LookupFunction } from 'node:net';

/**
 * Name resolution as Chromium does it: every `*.localhost` name is loopback (RFC 6761), so a
 * session's browser host (`<id>.web.sessions.hackstream.localhost`) needs no DNS record; the
 * request still sends that name as SNI and Host. Other names resolve as usual.
 */
export const loopbackLookup: LookupFunction = (hostname, options, callback) => {
  if (!/(^|\.)localhost\.?$/i.test(hostname)) return dns.lookup(hostname, options, callback);
  const address = { address: '127.0.0.1', family: 4 };
  if (options.all) (callback as (err: null, addresses: dns.LookupAddress[]) => void)(null, [address]);
  else callback(null, address.address, address.family);
};

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
    const req = https.request(url, { method: opts.method ?? 'GET', headers: opts.headers, ca, agent: false, lookup: loopbackLookup }, (res) => {
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
