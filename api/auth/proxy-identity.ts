/**
 * Sign-in delegated to the operator's forward-auth proxy (oauth2-proxy and the like, in front of
 * the API and the dashboard): the identity headers it sets are read only on a connection whose
 * peer is one of its addresses (HACKSTREAM_AUTH_PROXY_SOURCES). The peer is the socket's, never
 * X-Forwarded-For, which any client can write; from anywhere else the headers are ignored, as if
 * they were not there. Groups map to roles; the most privileged role any of them gives wins.
 */
import { BlockList, isIPv4 } from 'node:net';
import type { SignInConfig } from '../../core/config.js';
import { ROLES, type Role } from '../../core/roles.js';
import { HttpError } from '../http-error.js';

export type ProxySignInConfig = NonNullable<SignInConfig['proxy']>;

/** What is read of a request: its connection's peer, and headers (Express's `req`). */
export interface ProxiedRequest {
  socket: { remoteAddress?: string | undefined };
  get(name: string): string | undefined;
}

/** Who the proxy says the caller is. */
export interface ProxiedIdentity {
  username: string;
  email: string | null;
  groups: string[];
}

/** What an account made by the proxy may be called: the local accounts' names, and e-mail addresses. */
const PROXY_USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;
const MAX_GROUPS = 256;

/** The IPv4 address inside an IPv4-mapped IPv6 one (a dual-stack socket's view of IPv4 peers). */
const unmapped = (address: string): string => /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)?.[1] ?? address;

export class ProxyIdentity {
  private readonly trusted = new BlockList();

  constructor(private readonly config: ProxySignInConfig) {
    for (const range of config.sources) {
      const [address, prefix] = range.split('/') as [string, string];
      this.trusted.addSubnet(address, Number(prefix), isIPv4(address) ? 'ipv4' : 'ipv6');
    }
  }

  /** Whether this connection comes from the sign-in proxy. */
  fromProxy(req: Pick<ProxiedRequest, 'socket'>): boolean {
    const peer = req.socket.remoteAddress;
    if (!peer) return false;
    const address = unmapped(peer);
    return this.trusted.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  }

  /**
   * The identity the proxy vouches for on this request; null when the request did not come
   * through the proxy or the proxy named nobody. Throws 400 when the proxy's user header is not
   * a usable account name (the operator's proxy is set up to send something else).
   */
  read(req: ProxiedRequest): ProxiedIdentity | null {
    if (!this.fromProxy(req)) return null;
    const { headers } = this.config;
    const username = req.get(headers.user)?.trim();
    if (!username) return null;
    if (!PROXY_USERNAME.test(username)) {
      throw new HttpError(400, 'invalid_proxy_identity', `the sign-in proxy's ${headers.user} header is not a usable account name (1–64 letters, digits and . _ @ + -)`);
    }
    const email = req.get(headers.email)?.trim() || null;
    const groups = (req.get(headers.groups) ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter((g) => g !== '')
      .slice(0, MAX_GROUPS);
    return { username, email: email && email.length <= 254 ? email : null, groups };
  }

  /** The role the groups give (the most privileged of those mapped), else the default; null: none. */
  roleFor(groups: readonly string[]): Role | null {
    let best: Role | null = null;
    for (const group of groups) {
      const role = this.config.groupRoles.get(group);
      if (role && (best === null || ROLES.indexOf(role) < ROLES.indexOf(best))) best = role;
    }
    return best ?? this.config.defaultRole;
  }
}
