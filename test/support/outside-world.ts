/**
 * The world beyond the host, for egress tests that cannot use the real internet: a network
 * namespace joined to the host by a veth pair and routed like any upstream, holding
 *
 * - a "public" address (198.51.100.7, a documentation range no session policy refuses),
 * - a cloud metadata address (169.254.169.254),
 * - a LAN host (10.254.77.7, a private address),
 *
 * each answering "hello" on two TCP ports. Session traffic reaches it through the host's FORWARD
 * chain and Docker's masquerading, exactly as traffic to the internet would; sessions never reach
 * the host itself, so the pages tests open in a session are served from here (`serveOutside`).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { forwardFromNamespace } from './namespace-forwarder.js';

export const OUTSIDE = { publicHost: '198.51.100.7', metadata: '169.254.169.254', lanHost: '10.254.77.7' } as const;
export const OUTSIDE_PORTS = [8099, 8100] as const;

/** What test files need of it (plain data: the global setup provides it). */
export interface OutsideWorldInfo {
  netns: string;
  publicHost: string;
}

/**
 * Serves `handler` at http://<public address>:<port>/ in the outside world: an HTTP server in this
 * process on a Unix socket, and a forwarder in the namespace (file systems are shared).
 */
export async function serveOutside(world: OutsideWorldInfo, handler: RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-outside-'));
  const sock = path.join(dir, 'http.sock');
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  let forwarder: ChildProcess | undefined;
  let port: number;
  const close = async () => {
    forwarder?.kill('SIGKILL');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    ({ port, forwarder } = await forwardFromNamespace(world.netns, { host: world.publicHost, port: 0 }, sock));
  } catch (err) {
    await close();
    throw err;
  }
  return { url: `http://${world.publicHost}:${port}/`, close };
}

const SERVER = `
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, _ = s.accept(); c.sendall(b"hello\\n"); c.close()
for p in sys.argv[1:]:
    threading.Thread(target=serve, args=(int(p),), daemon=True).start()
threading.Event().wait()
`;

const NETNS = 'hs-outside';
const LOCK_FILE = '/run/lock/hackstream-outside-world.lock';

/**
 * Run under a lock: if the world does not answer, remove what is left of it and make it again.
 * The veth's ends are not named "hs-…": that prefix is the session bridges' (the host firewall
 * matches it).
 */
const SETUP = `
set -eu
# The namespace, its route and its "hello": a connection alone proves nothing (a transparent
# proxy on the default route accepts any).
answers() {
  ip netns exec ${NETNS} true 2>/dev/null || return 1
  ip route get ${OUTSIDE.publicHost} 2>/dev/null | grep -q ' dev xw-host ' || return 1
  timeout 1 bash -c "exec 3<>/dev/tcp/${OUTSIDE.publicHost}/${OUTSIDE_PORTS[0]}; head -c 5 <&3" 2>/dev/null | grep -q '^hello$'
}
answers && exit 0
for a in ${Object.values(OUTSIDE).join(' ')}; do ip route del "$a/32" 2>/dev/null || true; done
ip link del xw-host 2>/dev/null || true
for pid in $(ip netns pids ${NETNS} 2>/dev/null); do kill -9 "$pid" || true; done
ip netns del ${NETNS} 2>/dev/null || true
ip netns add ${NETNS}
ip link add xw-host type veth peer name xw-outside
ip link set xw-outside netns ${NETNS}
ip addr add 203.0.113.1/30 dev xw-host
ip link set xw-host up
ip netns exec ${NETNS} ip link set lo up
ip netns exec ${NETNS} ip addr add 203.0.113.2/30 dev xw-outside
for a in ${Object.values(OUTSIDE).join(' ')}; do ip netns exec ${NETNS} ip addr add "$a/32" dev xw-outside; done
ip netns exec ${NETNS} ip link set xw-outside up
ip netns exec ${NETNS} ip route add default via 203.0.113.1
for a in ${Object.values(OUTSIDE).join(' ')}; do ip route add "$a/32" via 203.0.113.2; done
setsid ip netns exec ${NETNS} python3 -c "$HELLO_SERVER" ${OUTSIDE_PORTS.join(' ')} </dev/null >/dev/null 2>&1 &
for i in $(seq 100); do answers && exit 0; sleep 0.1; done
echo "the outside world (network namespace ${NETNS}) does not answer on ${OUTSIDE.publicHost}:${OUTSIDE_PORTS[0]}" >&2
exit 1
`;

/**
 * The one outside world of this machine, made if it is missing or broken: stacks running at once
 * (test runs, benchmarks) share it, since its addresses are fixed. It stays until the machine
 * restarts (\`ip netns del hs-outside; ip link del xw-host\` removes it).
 */
export function startOutsideWorld(): OutsideWorldInfo {
  execFileSync('flock', ['-o', LOCK_FILE, 'bash', '-c', SETUP], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, HELLO_SERVER: SERVER } });
  return { netns: NETNS, publicHost: OUTSIDE.publicHost };
}
