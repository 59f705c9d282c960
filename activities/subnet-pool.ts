/**
 * Subnets for sessions' Docker networks. Docker's default address pools hold about 30 bridge
 * networks, which would cap a host at 30 sessions; each session gets a /28 (its gateway and one
 * container) from a configured range instead: 4096 of them in a /16.
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

  /** Every /28 of the pool, in order. */
  *subnets(): Generator<string> {
    const size = 2 ** (32 - SESSION_SUBNET_PREFIX);
    for (let i = 0; i < this.count; i++) yield `${fromInt(this.first + i * size)}/${SESSION_SUBNET_PREFIX}`;
  }
}
