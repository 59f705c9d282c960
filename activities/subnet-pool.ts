/**
 * Subnets for sessions' Docker networks. Docker's default address pools hold about 30 bridge
 * networks, which would cap a host at 30 sessions; each session gets a /28 (its gateway and one
 * container) from a configured range instead: 4096 of them in a /16, less those the host routes
 * already (its kernel route table, read here).
 */
import ipaddr from 'ipaddr.js';

export const SESSION_SUBNET_PREFIX = 28;

const toInt = (a: ipaddr.IPv4): number => a.toByteArray().reduce((acc, b) => acc * 256 + b, 0);
const fromInt = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

export class SubnetPool {
  private readonly first: number;
  private readonly count: number;

  /** @param cidr an IPv4 range such as 10.213.0.0/16 */
  constructor(readonly cidr: string) {
    const [, bits] = ipaddr.IPv4.parseCIDR(cidr);
    if (bits > SESSION_SUBNET_PREFIX) throw new Error(`subnet pool ${cidr} is smaller than one /${SESSION_SUBNET_PREFIX}`);
    this.first = toInt(ipaddr.IPv4.networkAddressFromCIDR(cidr));
    this.count = 2 ** (SESSION_SUBNET_PREFIX - bits);
  }

  /**
   * The /28s of the pool that a route of this host covers (its directly connected IPv4 networks,
   * e.g. `{ network: '10.213.0.48', prefix: 28 }`): such a subnet is routed on the host already —
   * a bridge a killed engine left behind keeps its address and route while the engine forgot its
   * network — and a session network there would be unreachable.
   */
  routedOnHost(routes: ReadonlyArray<{ network: string; prefix: number }>): Set<string> {
    const size = 2 ** (32 - SESSION_SUBNET_PREFIX);
    const end = this.first + this.count * size;
    const routed = new Set<string>();
    for (const route of routes) {
      if (!ipaddr.IPv4.isValidFourPartDecimal(route.network) || route.prefix < 1 || route.prefix > 32) continue;
      const from = toInt(ipaddr.IPv4.parse(route.network));
      const to = from + 2 ** (32 - route.prefix);
      for (let at = Math.max(from, this.first); at < Math.min(to, end); at = Math.floor((at - this.first) / size + 1) * size + this.first) {
        routed.add(`${fromInt(this.first + Math.floor((at - this.first) / size) * size)}/${SESSION_SUBNET_PREFIX}`);
      }
    }
    return routed;
  }

  /** Every /28 of the pool, in order. */
  *subnets(): Generator<string> {
    const size = 2 ** (32 - SESSION_SUBNET_PREFIX);
    for (let i = 0; i < this.count; i++) yield `${fromInt(this.first + i * size)}/${SESSION_SUBNET_PREFIX}`;
  }
}

/**
 * This host's directly connected IPv4 routes, from the kernel's table (/proc/net/route: hex,
 * little-endian), the routes of interfaces that are down included (the worker runs in the host's
 * network namespace). Routes through a gateway are not networks of this host.
 */
export function connectedRoutes(table: string): Array<{ network: string; prefix: number }> {
  const ip = (hex: string) => [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join('.');
  const RTF_GATEWAY = 0x2;
  return table
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && /^[0-9A-Fa-f]{8}$/.test(f[1]!) && /^[0-9A-Fa-f]{8}$/.test(f[7]!) && (Number.parseInt(f[3]!, 16) & RTF_GATEWAY) === 0)
    .map((f) => ({ network: ip(f[1]!), prefix: ip(f[7]!).split('.').reduce((bits, octet) => bits + Number(octet).toString(2).replaceAll('0', '').length, 0) }));
}
