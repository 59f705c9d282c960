/**
 * Chromium in a network namespace of its own, for clean measurements on the Docker host.
 *
 * On the host itself, Chromium sees every Docker network that comes or goes (a pool refill, a
 * session stopping) and aborts its requests and WebSockets with ERR_NETWORK_CHANGED, which no
 * user on another machine ever sees. In a namespace with only loopback there is nothing to see;
 * each address the browser needs is a tunnel: a listener on the namespace's loopback, a Unix
 * socket (file system, shared), and a connection from this process to the real target. The
 * tunnel counts the bytes sent to the browser, which is what the client received.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromiumPath } from '../test/support/paths.js';
import { launchChromium, type TestBrowser } from '../test/support/browser.js';

/** Listens on the namespace's loopback and hands each connection to a Unix socket. */
const NS_FORWARDER = `
const net = require('node:net');
const [port, sock] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(sock);
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
  c.on('close', () => u.destroy()); u.on('close', () => c.destroy());
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
`;

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
  const ns = `hs-bench-${process.pid}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-netns-'));
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  const wrapper = path.join(dir, 'chromium');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${chromiumPath()} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const children: ChildProcess[] = [];
  const servers: net.Server[] = [];
  const chromium = await launchChromium({ trustCaFile: opts.trustCaFile, executablePath: wrapper });
  let next = 0;
  let delayMs = 0;

  return {
    browser: chromium.browser,
    setDelay(ms: number) {
      delayMs = ms;
    },
    async tunnel(target, port = target.port) {
      let bytes = 0;
      const sock = path.join(dir, `t${next++}.sock`);
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
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', NS_FORWARDER, String(port), sock], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`namespace forwarder exited (${code})`)));
      });
      return { port, bytesToBrowser: () => bytes };
    },
    async close() {
      await chromium.close();
      for (const c of children) c.kill();
      for (const s of servers) s.close();
      execFileSync('ip', ['netns', 'delete', ns]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
