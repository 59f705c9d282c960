/**
 * The node's end of its tunnel: every connection the ingress sends through the tunnel arrives
 * here (one port on the node's loopback), and goes on to the session it names. The name is read
 * from the connection's first bytes without decrypting anything: a TLS ClientHello's server name
 * (a native client's connection, passed through end to end to the session's own TLS) or an HTTP
 * request's Host (the browser path, which the ingress has already checked). The session's
 * container address comes from this node's engine; a name of no session here is refused.
 *
 * A connection is routed once, by its first bytes: the ingress keeps a connection pool per
 * session (each session's route has a transport of its own, core/traefik-dynamic-config.ts), so
 * a connection it reuses carries the same session's requests.
 */
import net from 'node:net';
import { sessionOfName } from '../core/ingress-names.js';
import { splice } from '../core/socket-splice.js';
import type { Logger } from '../core/logger.js';

/** More than any ClientHello or request head we forward; a peer that sends more without a name is cut off. */
const MAX_HEAD_BYTES = 16 * 1024;
/** A connection that names nothing within this is closed. */
const HEAD_TIMEOUT_MS = 10_000;

export interface SessionDemuxOptions {
  domain: string;
  /** The address of a session's container on this node, or null when it has none here. */
  addressOf(sessionId: string): Promise<string | null>;
  logger: Logger;
}

/** The server name of a TLS ClientHello; null when the bytes are not one, undefined while incomplete. */
export function clientHelloServerName(buf: Buffer): string | null | undefined {
  if (buf.length < 5) return undefined;
  if (buf[0] !== 0x16) return null;
  const recordEnd = 5 + buf.readUInt16BE(3);
  if (buf.length < recordEnd) return undefined;
  let at = 5;
  const need = (n: number) => at + n <= recordEnd;
  if (!need(4) || buf[at] !== 0x01) return null;
  at += 4; // handshake type and length
  if (!need(34)) return null;
  at += 34; // client version, random
  if (!need(1)) return null;
  at += 1 + buf[at]!; // session id
  if (!need(2)) return null;
  at += 2 + buf.readUInt16BE(at); // cipher suites
  if (!need(1)) return null;
  at += 1 + buf[at]!; // compression methods
  if (!need(2)) return null;
  const extensionsEnd = Math.min(recordEnd, at + 2 + buf.readUInt16BE(at));
  at += 2;
  while (at + 4 <= extensionsEnd) {
    const type = buf.readUInt16BE(at);
    const length = buf.readUInt16BE(at + 2);
    at += 4;
    if (at + length > extensionsEnd) return null;
    if (type === 0x0000) {
      // server_name: a list; the first host_name (type 0) entry.
      let entry = at + 2;
      while (entry + 3 <= at + length) {
        const nameType = buf[entry]!;
        const nameLength = buf.readUInt16BE(entry + 1);
        if (entry + 3 + nameLength > at + length) return null;
        if (nameType === 0) return buf.toString('ascii', entry + 3, entry + 3 + nameLength);
        entry += 3 + nameLength;
      }
      return null;
    }
    at += length;
  }
  return null;
}

/** The Host of an HTTP request head; null when there is none, undefined while the head is incomplete. */
export function requestHost(buf: Buffer): string | null | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const host = /\r\nhost:[ \t]*([^\r\n]*)/i.exec(buf.toString('latin1', 0, end))?.[1]?.trim();
  return host || null;
}

export class SessionDemux {
  private server: net.Server | undefined;
  private readonly open = new Set<net.Socket>();

  constructor(private readonly opts: SessionDemuxOptions) {}

  /** Listens on the node's loopback; resolves with the port. */
  async start(port = 0): Promise<number> {
    const server = net.createServer((socket) => this.route(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private track(socket: net.Socket): void {
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
  }

  private route(socket: net.Socket): void {
    this.track(socket);
    socket.on('error', () => socket.destroy());
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), HEAD_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const name = head[0] === 0x16 ? clientHelloServerName(head) : requestHost(head);
      if (name === undefined && head.length < MAX_HEAD_BYTES) return;
      socket.off('data', onData);
      socket.pause();
      clearTimeout(timer);
      void this.connect(socket, name ?? null, head);
    };
    socket.on('data', onData);
  }

  private async connect(socket: net.Socket, name: string | null, head: Buffer): Promise<void> {
    const target = name === null ? null : sessionOfName(name, this.opts.domain);
    const address = target ? await this.opts.addressOf(target.sessionId).catch(() => null) : null;
    if (!target || !address) {
      this.opts.logger.info('tunnel connection for no session of this node refused', { name });
      socket.destroy();
      return;
    }
    const upstream = net.connect(target.port, address);
    this.track(upstream);
    upstream.write(head);
    splice(socket, upstream);
    socket.resume();
  }
}
