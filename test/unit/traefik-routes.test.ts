/**
 * TraefikFileRoutes.waitUntilLive against an ingress that accepts connections and never answers
 * (a TLS handshake that stalls, as a loaded host's passthrough to a starting session can): each
 * probe gives up after its own timeout, and the wait ends with an error at its deadline instead of
 * waiting for ever (a warm-up hung on it until its activity timed out, and the pool stayed short).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TraefikFileRoutes } from '../../activities/traefik-routes.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-routes-'));
const held: net.Socket[] = [];
let silent: net.Server;
let port: number;

beforeAll(async () => {
  // Takes every connection, reads, and never writes a byte.
  silent = net.createServer((socket) => {
    held.push(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  port = (silent.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise((r) => silent.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('waitUntilLive', () => {
  it('fails at its deadline when the ingress never answers, rather than waiting for ever', async () => {
    const routes = new TraefikFileRoutes(path.join(dir, 'dynamic'), 'hackstream.test', { host: '127.0.0.1', port, caPem: async () => '' });
    const started = Date.now();
    const outcome = await Promise.race([
      routes.waitUntilLive('3f2b0c4e-0d7e-4a57-9d0c-1d1f6a0b9a11', 3_000).then(
        () => 'live',
        (err: Error) => err.message,
      ),
      new Promise<string>((r) => setTimeout(() => r('still waiting'), 15_000)),
    ]);
    expect(outcome).toMatch(/did not serve the routes of session .* within 3000 ms \(browser \w+, native false\)/);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(held.length).toBeGreaterThanOrEqual(2); // both probes really connected
  }, 20_000);
});
