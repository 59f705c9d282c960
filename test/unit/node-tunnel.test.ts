import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo, Server } from 'node:net';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { sessionOfName, sessionTlsName, sessionWebHost, XPRA_SSL_PORT, XPRA_WS_PORT } from '../../core/ingress-names.js';
import { authorizedKeys, sshPublicKey, TunnelHostKey, tunnelSshdConfig } from '../../core/node-tunnel.js';
import { clientHelloServerName, requestHost } from '../../worker/session-demux.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-node-tunnel-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first bytes a TLS client sends for this server name (Node's own ClientHello). */
async function clientHello(servername?: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = tls.createServer();
    const net = server as unknown as Server;
    net.removeAllListeners('connection');
    net.on('connection', (socket) => {
      socket.once('data', (d: Buffer) => {
        resolve(d);
        socket.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      tls.connect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false }).on('error', () => undefined);
    });
  });
}

describe('the tunnel’s SSH keys', () => {
  it('writes a P-256 key as OpenSSH does (ssh-keygen -y reads the same line from the PEM)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const file = path.join(dir, 'k.pem');
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const fromOpenSsh = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim().split(' ').slice(0, 2).join(' ');
    expect(sshPublicKey(publicKey)).toBe(fromOpenSsh);
    expect(sshPublicKey(publicKey.export({ type: 'spki', format: 'der' }))).toBe(fromOpenSsh);
    expect(() => sshPublicKey(generateKeyPairSync('ed25519').publicKey)).toThrow(/P-256/);
  });

  it('lets each node’s key listen on its own port only, with nothing else', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    expect(authorizedKeys([{ id: 'edge-1', publicKeySpki: spki, tunnelPort: 17004 }])).toBe(
      `restrict,port-forwarding,permitlisten="127.0.0.1:17004" ${sshPublicKey(publicKey)} node:edge-1\n`,
    );
    expect(authorizedKeys([])).toBe('');
  });

  it('configures an sshd that sshd itself accepts: loopback, keys, remote forwarding only', () => {
    const config = tunnelSshdConfig({ port: 7022, hostKeyFile: '/k', authorizedKeysFile: '/a', pidFile: '/p', user: 'hackstream-node', asRoot: true });
    for (const line of ['ListenAddress 127.0.0.1:7022', 'AllowUsers hackstream-node', 'AllowTcpForwarding remote', 'PasswordAuthentication no', 'PermitTTY no', 'MaxSessions 0', 'AuthorizedKeysCommand /bin/cat /a']) {
      expect(config.split('\n')).toContain(line);
    }
    expect(tunnelSshdConfig({ port: 7022, hostKeyFile: '/k', authorizedKeysFile: '/a', pidFile: '/p', user: 'hackstream', asRoot: false }).split('\n')).toContain('AuthorizedKeysFile /a');
  });

  it('makes one host key however many processes ask at once, private to its owner', async () => {
    const file = path.join(dir, 'ca', 'tunnel-host-key.pem');
    const keys = await Promise.all(Array.from({ length: 8 }, () => new TunnelHostKey(file).publicKey()));
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^ecdsa-sha2-nistp256 AAAA/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await new TunnelHostKey(file).publicKey()).toBe(keys[0]);
  });
});

describe('the node’s session demux', () => {
  const domain = 'hs.example';
  const id = randomUUID();

  it('reads the server name of a real ClientHello, and waits for the rest of a partial one', async () => {
    const hello = await clientHello(sessionTlsName(id, domain));
    expect(clientHelloServerName(hello)).toBe(sessionTlsName(id, domain));
    expect(clientHelloServerName(hello.subarray(0, hello.length - 10))).toBeUndefined();
    expect(clientHelloServerName(await clientHello())).toBeNull();
    expect(clientHelloServerName(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toBeNull();
    // A record that claims more than it holds is no name, not a read past its end.
    const broken = Buffer.from(hello);
    broken.writeUInt16BE(0xffff, 5 + 4 + 34 + 1 + broken[5 + 4 + 34]! );
    expect(clientHelloServerName(broken)).toBeNull();
  });

  it('reads an HTTP request’s Host once its head is complete', () => {
    expect(requestHost(Buffer.from(`GET / HTTP/1.1\r\nHost: ${sessionWebHost(id, domain)}:8443\r\nUpgrade: websocket\r\n\r\n`))).toBe(`${sessionWebHost(id, domain)}:8443`);
    expect(requestHost(Buffer.from('GET / HTTP/1.1\r\nHost: a'))).toBeUndefined();
    expect(requestHost(Buffer.from('GET / HTTP/1.1\r\nX-Host: a\r\n\r\n'))).toBeNull();
  });

  it('maps a name to its session’s xpra port: the browser host to the websocket, the TLS name to xpra’s TLS', () => {
    expect(sessionOfName(sessionWebHost(id, domain), domain)).toEqual({ sessionId: id, port: XPRA_WS_PORT });
    expect(sessionOfName(`${sessionWebHost(id, domain).toUpperCase()}:8443`, domain)).toEqual({ sessionId: id, port: XPRA_WS_PORT });
    expect(sessionOfName(sessionTlsName(id, domain), domain)).toEqual({ sessionId: id, port: XPRA_SSL_PORT });
    for (const other of ['example.org', `x.${sessionTlsName(id, domain)}`, `../${id}.sessions.${domain}`, `${id}.sessions.other.example`, `api.sessions.${domain}`]) {
      expect(sessionOfName(other, domain), other).toBeNull();
    }
  });
});
