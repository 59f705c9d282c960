/**
 * A TCP relay between a client and a server that a test can cut and restore: a network outage
 * between a device and the ingress, with everything on loopback.
 */
import net from 'node:net';

export interface TcpRelay {
  port: number;
  /** Bytes relayed from the server to clients so far (what the device received), and the other way. */
  bytesToClient(): number;
  bytesToServer(): number;
  /** Drops every connection and refuses new ones until restore(). */
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** `listenHost`: where clients reach it (another network namespace reaches the host's end of its link). */
export async function startTcpRelay(targetPort: number, targetHost = '127.0.0.1', listenHost = '127.0.0.1'): Promise<TcpRelay> {
  const sockets = new Set<net.Socket>();
  let toClient = 0;
  let toServer = 0;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    track(client);
    track(upstream);
    client.on('data', (d: Buffer) => (toServer += d.length));
    upstream.on('data', (d: Buffer) => (toClient += d.length));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, listenHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const stopListening = () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  await listen(0);
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    bytesToClient: () => toClient,
    bytesToServer: () => toServer,
    async cut() {
      const closed = stopListening();
      for (const s of sockets) s.destroy();
      await closed;
    },
    restore: () => listen(port),
    async close() {
      const closed = stopListening();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
