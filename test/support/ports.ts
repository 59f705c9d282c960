import { readFileSync } from 'node:fs';
import net from 'node:net';

/**
 * Below the kernel's ephemeral range: a port from that range (what `listen(0)` hands out) can be
 * taken, between this check and the service's own bind, as the local port of any outgoing
 * connection (this suite makes thousands), and a listen on it then fails with EADDRINUSE.
 */
const RANGE_START = 15_000;
const rangeEnd = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768;
  }
})();
/** Never the same port twice in one process (two callers before either binds). */
const handedOut = new Set<number>();

const bindable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });

/** A TCP port that was free a moment ago on every address, outside the ephemeral range; random, so parallel test files rarely pick the same. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = RANGE_START + Math.floor(Math.random() * (rangeEnd - RANGE_START));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free TCP port found between ${RANGE_START} and ${rangeEnd}`);
}
