/**
 * A TCP listener inside a network namespace that hands each connection to a Unix socket of this
 * process (file systems are shared between namespaces): how a browser or a session in a namespace
 * of its own reaches a server of the test process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

const FORWARDER = `
const net = require('node:net');
const [host, port, sock] = process.argv.slice(1);
const server = net.createServer((c) => {
  const u = net.connect(sock);
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
  c.on('close', () => u.destroy()); u.on('close', () => c.destroy());
}).listen(Number(port), host, () => console.log('port ' + server.address().port));
`;

/** Listens on `host`:`port` in `netns` (port 0: any free one); resolves once it listens, with its port. */
export async function forwardFromNamespace(netns: string, listen: { host: string; port: number }, sock: string): Promise<{ port: number; forwarder: ChildProcess }> {
  const forwarder = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', FORWARDER, listen.host, String(listen.port), sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [first] = (await Promise.race([once(forwarder.stdout, 'data'), once(forwarder, 'exit')])) as [Buffer | number | null];
  const port = Number(/^port (\d+)/.exec(String(first))?.[1] ?? NaN);
  if (Number.isNaN(port)) {
    forwarder.kill('SIGKILL');
    throw new Error(`the forwarder to ${sock} on ${listen.host}:${listen.port} in ${netns} did not start (${String(first)})`);
  }
  return { port, forwarder };
}
