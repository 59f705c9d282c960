/**
 * Which source addresses share one login budget. An IPv6 host is usually given a whole /64 and
 * picks addresses in it freely (SLAAC, privacy addresses), so a limit per IPv6 address would give
 * one attacker 2^64 budgets: IPv6 is counted per /64. IPv4 is counted per address, and an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports) as the IPv4 address
 * it is, so the same client is not counted twice.
 */
import { isIPv4, isIPv6 } from 'node:net';

export function throttleAddressKey(address: string): string {
  // A zone id (fe80::1%eth0) names the local interface, not the client.
  const ip = address.trim().toLowerCase().replace(/%.*$/, '');
  if (isIPv4(ip)) return ip;
  // Not an address (empty when the socket's is unknown): its own key, as before.
  if (!isIPv6(ip)) return ip;
  const g = ipv6Groups(ip);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.');
  return `${g.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail converted). */
function ipv6Groups(ip: string): number[] {
  let text = ip;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}
