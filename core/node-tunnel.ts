/**
 * The data tunnel of an edge node: OpenSSH's remote forwarding (`ssh -N -R`), carried inside the
 * node gateway's mutual TLS. What the node (worker/node-tunnel.ts), the API (which tells a node
 * its port with its certificate) and the node gateway (which runs the tunnel's sshd) share.
 *
 * Why OpenSSH: it is on every Debian and Raspberry Pi OS host already (a node needs nothing
 * built or downloaded), it is among the most audited network code there is, it authenticates the
 * node with the same P-256 key its certificate carries (no second secret to hand out), and
 * `permitlisten` pins each node's key to its one reverse port, so an approved node cannot take
 * another node's traffic. The gateway in front admits only approved nodes and closes a revoked
 * node's tunnel with its other connections.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The ALPN protocol a node asks the gateway for to reach the tunnel's sshd (Temporal's is h2). */
export const TUNNEL_ALPN = 'ssh';
/** Where a node's reverse port listens on the control host: the ingress's host, loopback only. */
export const TUNNEL_LISTEN_HOST = '127.0.0.1';
/**
 * The ports nodes' reverse listeners take on the control host's loopback, one per approved
 * enrolled node (assigned at approval, given back at revocation; core/node-registry.ts).
 */
export const TUNNEL_PORTS = { first: 17000, count: 1000 } as const;
/** The name the nodes know the tunnel's host key under (the address they dial is the gateway's). */
export const TUNNEL_HOST_KEY_ALIAS = 'hackstream-node-tunnel';

/** SSH's wire encoding of a string (RFC 4251: a 32-bit length, then the bytes). */
function sshString(bytes: Uint8Array | string): Buffer {
  const body = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

/** An ECDSA P-256 public key (a KeyObject, PEM or DER SPKI) in OpenSSH's one-line form (RFC 5656). */
export function sshPublicKey(key: KeyObject | string | Uint8Array, comment = ''): string {
  const object = typeof key === 'string' ? createPublicKey(key) : key instanceof Uint8Array ? createPublicKey({ key: Buffer.from(key), format: 'der', type: 'spki' }) : key;
  const jwk = object.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('an SSH key here must be ECDSA P-256');
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  const blob = Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString('nistp256'), sshString(point)]);
  return `ecdsa-sha2-nistp256 ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}

export interface TunnelNode {
  id: string;
  /** DER SPKI of the key it enrolled with. */
  publicKeySpki: Uint8Array;
  tunnelPort: number;
}

/**
 * The tunnel sshd's authorized keys: each node's key may do one thing, listen on its own port on
 * the control host's loopback (no shell, no pty, no agent or X11, no local forwarding: sshd's
 * configuration allows remote forwarding only).
 */
export function authorizedKeys(nodes: readonly TunnelNode[]): string {
  return nodes
    .map((n) => `restrict,port-forwarding,permitlisten="${TUNNEL_LISTEN_HOST}:${n.tunnelPort}" ${sshPublicKey(n.publicKeySpki, `node:${n.id}`)}\n`)
    .join('');
}

/**
 * The tunnel sshd's configuration: loopback only (nodes reach it through the gateway), keys only,
 * remote forwarding only, one account (`user`: every node's, each key limited to its own port).
 * `asRoot`: sshd runs as root and the keys file, in the gateway's private directory, is read by a
 * fixed command as root; otherwise sshd runs as `user` itself and reads the file directly.
 */
export function tunnelSshdConfig(opts: { port: number; hostKeyFile: string; authorizedKeysFile: string; pidFile: string; user: string; asRoot: boolean }): string {
  return [
    `ListenAddress ${TUNNEL_LISTEN_HOST}:${opts.port}`,
    `HostKey ${opts.hostKeyFile}`,
    `PidFile ${opts.pidFile}`,
    ...(opts.asRoot
      ? ['AuthorizedKeysFile none', `AuthorizedKeysCommand /bin/cat ${opts.authorizedKeysFile}`, 'AuthorizedKeysCommandUser root']
      : [`AuthorizedKeysFile ${opts.authorizedKeysFile}`]),
    `AllowUsers ${opts.user}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'HostbasedAuthentication no',
    'UsePAM no',
    'PermitRootLogin no',
    'AllowTcpForwarding remote',
    'GatewayPorts no',
    'AllowStreamLocalForwarding no',
    'AllowAgentForwarding no',
    'X11Forwarding no',
    'PermitTTY no',
    'PermitTunnel no',
    'PermitUserRC no',
    'PermitUserEnvironment no',
    'ForceCommand /bin/false',
    'MaxSessions 0',
    'LogLevel VERBOSE',
    // A node that went away without a word frees its port within about 45 s.
    'ClientAliveInterval 15',
    'ClientAliveCountMax 3',
    '',
  ].join('\n');
}

/**
 * The tunnel sshd's host key (ECDSA P-256, PKCS#8 PEM, beside the node CA on the control host):
 * the gateway's sshd serves with it and the API tells nodes its public half with their
 * certificate. Made by whichever of the two needs it first; a hard link makes the creation
 * exclusive, so both always agree on one key.
 */
export class TunnelHostKey {
  constructor(readonly file: string) {}

  /** The key's public half in OpenSSH's form, creating the key first unless it exists. */
  async publicKey(): Promise<string> {
    try {
      return sshPublicKey(createPublicKey(await readFile(this.file, 'utf8')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const temp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(temp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    try {
      await link(temp, this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await rm(temp, { force: true });
    }
    return sshPublicKey(createPublicKey(await readFile(this.file, 'utf8')));
  }
}
