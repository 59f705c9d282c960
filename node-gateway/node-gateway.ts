/**
 * The node gateway: where session nodes outside the control host dial in. It terminates mutual
 * TLS (a client certificate from the node CA is required; Temporal's dev server has no TLS of its
 * own) and passes each connection's bytes on by the protocol the node asked for (ALPN): `h2` to
 * Temporal's frontend, `ssh` to the edge nodes' tunnel sshd (tunnel-sshd.ts). A node is let in only while the
 * registry has it in a state that runs sessions, under the key its certificate carries; every
 * connection is checked again every `recheckMs`, so a revoked node loses its connections within
 * that time, not when its certificate expires. (Traefik could require the client certificate too,
 * but it neither asks the registry nor closes what it already let in.)
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../core/logger.js';
import { keyFingerprint } from '../core/node-identity.js';
import { splice } from '../core/socket-splice.js';

export interface GatewayCredentials {
  certPem: string;
  keyPem: string;
  /** The node CA's certificate: the only issuer of client certificates let in. */
  caPem: string;
}

type Address = { host: string; port: number };

export interface NodeGatewayOptions {
  listen: Address;
  /** Where each protocol a node may ask for goes: Temporal (gRPC, `h2`) and, with edge tunnels, their sshd (`ssh`). */
  upstreams: { h2: Address; ssh?: Address };
  credentials: GatewayCredentials;
  /** Whether this node, holding the key of this fingerprint, may connect now. */
  admits(nodeId: string, fingerprint: string): Promise<boolean>;
  recheckMs: number;
  logger: Logger;
}

interface Peer {
  nodeId: string;
  fingerprint: string;
  notAfter: number;
}

function peerOf(socket: tls.TLSSocket): Peer | null {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return null;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  if (!cn) return null;
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return { nodeId: cn, fingerprint: keyFingerprint(spki), notAfter: Date.parse(cert.validTo) };
}

export class NodeGateway {
  private server: tls.Server | undefined;
  private readonly open = new Map<tls.TLSSocket, Peer>();
  private recheck: NodeJS.Timeout | undefined;

  constructor(private readonly opts: NodeGatewayOptions) {}

  private context(c: GatewayCredentials): tls.SecureContextOptions {
    return { cert: c.certPem, key: c.keyPem, ca: c.caPem };
  }

  /** Listens; resolves with the bound port. */
  async start(): Promise<number> {
    const server = tls.createServer({
      ...this.context(this.opts.credentials),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      // gRPC needs HTTP/2 by ALPN, the tunnel asks for `ssh`; the bytes then pass through unread.
      ALPNProtocols: Object.keys(this.opts.upstreams),
    });
    server.on('secureConnection', (socket) => void this.accept(socket));
    server.on('tlsClientError', (err, socket) => {
      this.opts.logger.info('node gateway refused a connection', { reason: err.message, remote: socket.remoteAddress });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.listen.port, this.opts.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.recheck = setInterval(() => void this.recheckAll(), this.opts.recheckMs);
    this.recheck.unref();
    return (server.address() as net.AddressInfo).port;
  }

  /** A renewed server certificate, for connections from now on. */
  updateCredentials(c: GatewayCredentials): void {
    this.server?.setSecureContext(this.context(c));
  }

  /** The nodes connected now, and how many connections each has. */
  connections(): Record<string, number> {
    const count: Record<string, number> = {};
    for (const peer of this.open.values()) count[peer.nodeId] = (count[peer.nodeId] ?? 0) + 1;
    return count;
  }

  async close(): Promise<void> {
    clearInterval(this.recheck);
    for (const socket of this.open.keys()) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** True or false; null when the registry cannot say (then connections in stay, new ones are refused). */
  private async allowed(peer: Peer): Promise<boolean | null> {
    if (peer.notAfter <= Date.now()) return false;
    return this.opts.admits(peer.nodeId, peer.fingerprint).catch((err: unknown) => {
      // A database blip must not cut every node off.
      this.opts.logger.warn('node gateway cannot read the registry', { error: (err as Error).message });
      return null;
    });
  }

  private async accept(socket: tls.TLSSocket): Promise<void> {
    socket.on('error', () => socket.destroy());
    const peer = peerOf(socket);
    if (!peer || (await this.allowed(peer)) !== true) {
      this.opts.logger.info('node gateway refused a node', { node: peer?.nodeId ?? null, fingerprint: peer?.fingerprint ?? null, remote: socket.remoteAddress });
      socket.destroy();
      return;
    }
    const to = socket.alpnProtocol ? this.opts.upstreams[socket.alpnProtocol as keyof NodeGatewayOptions['upstreams']] : undefined;
    if (!to) {
      this.opts.logger.info('node gateway refused a connection: no protocol it serves', { node: peer.nodeId, alpn: socket.alpnProtocol || null });
      socket.destroy();
      return;
    }
    this.open.set(socket, peer);
    socket.on('close', () => this.open.delete(socket));
    splice(socket, net.connect(to.port, to.host));
    this.opts.logger.info('node connected through the gateway', { node: peer.nodeId, protocol: socket.alpnProtocol, remote: socket.remoteAddress });
  }

  private async recheckAll(): Promise<void> {
    const verdicts = new Map<string, boolean | null>();
    for (const [socket, peer] of this.open) {
      const key = `${peer.nodeId} ${peer.fingerprint} ${peer.notAfter}`;
      if (!verdicts.has(key)) verdicts.set(key, await this.allowed(peer));
      if (verdicts.get(key) === false) {
        this.opts.logger.info('node gateway closed a connection: the node may no longer connect', { node: peer.nodeId });
        socket.destroy();
        this.open.delete(socket);
      }
    }
  }
}
