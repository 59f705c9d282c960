/**
 * Chromium in a network namespace of its own (test/support/browser-namespace.ts), for clean
 * measurements on the Docker host. Each address the browser needs is a tunnel: a listener on the
 * namespace's loopback, a Unix socket, and a connection from this process to the real target. The
 * tunnel counts the bytes sent to the browser, which is what the client received, and can delay
 * them.
 */
import net from 'node:net';
import { createBrowserNamespace } from '../test/support/browser-namespace.js';
import { startChromium, type TestBrowser } from '../test/support/browser.js';

export interface Tunnel {
  /** The port on the namespace's loopback. */
  port: number;
  /** Bytes sent towards the browser so far. */
  bytesToBrowser(): number;
}

export interface IsolatedBrowser extends TestBrowser {
  /** Makes `target` reachable from the browser as 127.0.0.1:`port` (default: the target's port). */
  tunnel(target: { host: string; port: number }, port?: number): Promise<Tunnel>;
  /**
   * Delays everything the tunnels carry by `ms` in each direction (a round trip of twice that),
   * in order. In place of netem, which this kernel lacks (CONFIG_NET_SCH_NETEM is not set): a delay
   * per chunk of data rather than per packet, the same for a latency measurement.
   */
  setDelay(ms: number): void;
}

/** Copies `from` to `to`, each chunk `delay()` ms later (in order: equal delays fire in order). */
function relay(from: net.Socket, to: net.Socket, delay: () => number, onChunk: (n: number) => void = () => {}): void {
  from.on('data', (d: Buffer) => {
    onChunk(d.length);
    const ms = delay();
    if (ms > 0) setTimeout(() => to.write(d), ms);
    else to.write(d);
  });
  from.on('end', () => {
    const ms = delay();
    if (ms > 0) setTimeout(() => to.end(), ms);
    else to.end();
  });
}

export async function launchIsolatedChromium(opts: { trustCaFile: string }): Promise<IsolatedBrowser> {
  const ns = createBrowserNamespace();
  const servers: net.Server[] = [];
  const chromium = await startChromium({ trustCaFile: opts.trustCaFile, executablePath: ns.chromium });
  let next = 0;
  let delayMs = 0;

  return {
    browser: chromium.browser,
    setDelay(ms: number) {
      delayMs = ms;
    },
    async tunnel(target, port = target.port) {
      let bytes = 0;
      const sock = ns.socketPath(`t${next++}.sock`);
      const server = net.createServer((c) => {
        const t = net.connect(target.port, target.host);
        relay(c, t, () => delayMs);
        relay(t, c, () => delayMs, (n) => (bytes += n));
        c.on('error', () => t.destroy());
        t.on('error', () => c.destroy());
        // After the delayed data (and end) has gone through.
        c.on('close', () => setTimeout(() => t.destroy(), delayMs + 50));
        t.on('close', () => setTimeout(() => c.destroy(), delayMs + 50));
      });
      await new Promise<void>((resolve) => server.listen(sock, resolve));
      servers.push(server);
      await ns.forward(port, sock);
      return { port, bytesToBrowser: () => bytes };
    },
    async close() {
      await chromium.close();
      for (const s of servers) s.close();
      ns.close();
    },
  };
}
