/**
 * An edge node's data tunnel (core/node-tunnel.ts): OpenSSH's client keeps a reverse listener
 * open on the control host (`ssh -N -R <its port>:<the demux>`), over a TLS connection to the node
 * gateway made by `openssl s_client` with the node's certificate (ALPN `ssh`). Everything dials
 * out: the node opens no port. The ssh process is started again, with a growing pause, whenever
 * it ends (a network cut, a gateway restart, a certificate renewed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomically } from '../core/atomic-file.js';
import { logLines, stopChild } from '../core/child-process.js';
import type { Logger } from '../core/logger.js';
import { TUNNEL_ALPN, TUNNEL_HOST_KEY_ALIAS } from '../core/node-tunnel.js';
import { nodeFiles, type GatewayInfo } from './node-enrolment.js';

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;
/** A tunnel that stayed up this long was healthy: the next retry starts from the first pause again. */
const HEALTHY_MS = 60_000;

/** Single quotes for a shell word (ssh runs its ProxyCommand through a shell). */
const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** A node's gateway.json once the node has its tunnel. */
export type TunnelledGateway = GatewayInfo & { tunnel: NonNullable<GatewayInfo['tunnel']> };

export interface NodeTunnelOptions {
  /** The node's directory: its key, certificate, the node CA and gateway.json. */
  dir: string;
  /** Where the tunnel delivers on the node: the session demux. */
  target: { host: string; port: number };
  logger: Logger;
}

/** The ssh command line of the tunnel (no secret on it: the key is a file, the TLS is openssl's). */
export function tunnelCommand(dir: string, gateway: TunnelledGateway, target: { host: string; port: number }): string[] {
  const files = nodeFiles(dir);
  const proxy = [
    'openssl s_client -quiet -verify_quiet -verify_return_error',
    `-connect ${quote(gateway.address)}`,
    `-servername ${quote(gateway.serverName)} -verify_hostname ${quote(gateway.serverName)}`,
    `-CAfile ${quote(files.caCertificate)} -cert ${quote(files.certificate)} -key ${quote(files.key)}`,
    `-alpn ${TUNNEL_ALPN}`,
  ].join(' ');
  return [
    'ssh',
    '-F',
    '/dev/null',
    '-N',
    '-T',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-i',
    files.key,
    '-o',
    `UserKnownHostsFile=${files.tunnelKnownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `HostKeyAlias=${TUNNEL_HOST_KEY_ALIAS}`,
    '-o',
    'ExitOnForwardFailure=yes',
    '-o',
    'ServerAliveInterval=15',
    '-o',
    'ServerAliveCountMax=3',
    '-o',
    `ProxyCommand=${proxy}`,
    '-R',
    `${gateway.tunnel.listen}:${target.host}:${target.port}`,
    `${gateway.tunnel.user}@${TUNNEL_HOST_KEY_ALIAS}`,
  ];
}

/**
 * The node's tunnel as it was told it with its certificate (gateway.json), with the sshd's host
 * key written where ssh checks it; throws when the node has none yet (not approved).
 */
export async function tunnelOf(dir: string): Promise<TunnelledGateway> {
  const gateway = JSON.parse(await readFile(nodeFiles(dir).gateway, 'utf8')) as GatewayInfo;
  if (!gateway.tunnel) throw new Error('this node has no tunnel yet: it is told its tunnel with its certificate once approved (`hackstream-node renew`)');
  await writeFileAtomically(nodeFiles(dir).tunnelKnownHosts, `${TUNNEL_HOST_KEY_ALIAS} ${gateway.tunnel.hostKey}\n`, { mode: 0o600 });
  return { ...gateway, tunnel: gateway.tunnel };
}

export class NodeTunnel {
  private child: ChildProcess | undefined;
  private stopped = false;
  private retryMs = FIRST_RETRY_MS;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: NodeTunnelOptions) {}

  /** Starts the tunnel (and keeps it up); rejects when the node has no tunnel yet (not approved). */
  async start(): Promise<void> {
    this.launch(tunnelCommand(this.opts.dir, await tunnelOf(this.opts.dir), this.opts.target));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await stopChild(this.child);
  }

  private launch(command: string[]): void {
    const startedAt = Date.now();
    const child = spawn(command[0]!, command.slice(1), { cwd: path.resolve(this.opts.dir), stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    logLines(child.stderr, (line) => this.opts.logger.info('tunnel', { line }));
    child.on('error', (err) => this.opts.logger.error('cannot run ssh for the tunnel (Debian package openssh-client)', { error: err.message }));
    child.on('exit', (code, signal) => {
      if (this.stopped) return;
      if (Date.now() - startedAt > HEALTHY_MS) this.retryMs = FIRST_RETRY_MS;
      this.opts.logger.warn('the tunnel ended; dialling again', { code, signal, inMs: this.retryMs });
      this.timer = setTimeout(() => this.launch(command), this.retryMs);
      this.timer.unref();
      this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    });
  }
}
