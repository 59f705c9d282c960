/**
 * Egress openings: the destinations beyond the public internet that an operator lets one role's
 * sessions reach (HACKSTREAM_ROLE_POLICIES' `egress`, and the admin API's per-role list). By
 * default a session reaches only public addresses; the session firewall
 * (activities/session-firewall.ts) refuses the host, private and link-local ranges and other
 * sessions, before the openings listed here.
 *
 * A destination is `<IPv4 address | IPv4 CIDR | host name>[:port]`: a host name is resolved when
 * the session starts, a port limits the opening to TCP and UDP on that port. Sessions have IPv4
 * addresses only, so IPv6 destinations are refused here rather than silently ignored.
 */
import { isIPv4 } from 'node:net';
import { z } from 'zod';

export interface EgressDestination {
  /** An IPv4 address or CIDR, or a host name to resolve at session start. */
  host: string;
  /** Only this port (TCP and UDP); every port if absent. */
  port?: number;
}

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Why `value` is not a destination, or null if it is one. */
function problemWith(value: string): string | null {
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(value);
  const host = m?.[1] ?? '';
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return `port ${port} is not 1-65535`;
  const cidr = /^([0-9.]+)\/(\d{1,2})$/.exec(host);
  if (cidr) {
    if (!isIPv4(cidr[1] ?? '')) return `"${cidr[1]}" is not an IPv4 address`;
    const bits = Number(cidr[2]);
    if (bits < 8 || bits > 32) return `prefix /${bits} is not /8 to /32 (the whole internet is open already)`;
    return null;
  }
  if (isIPv4(host)) return null;
  if (/^[0-9.]+$/.test(host)) return `"${host}" is not an IPv4 address`;
  if (!HOST_NAME.test(host)) return `"${host}" is not an IPv4 address, CIDR or host name (IPv6 is not routed to sessions)`;
  return null;
}

export function parseEgressDestination(value: string): EgressDestination {
  const problem = problemWith(value);
  if (problem) throw new Error(`egress destination "${value}": ${problem}`);
  const i = value.lastIndexOf(':');
  return i < 0 ? { host: value } : { host: value.slice(0, i), port: Number(value.slice(i + 1)) };
}

/** One destination as configuration and the admin API accept it (kept as its string). */
export const egressDestinationSchema = z
  .string()
  .trim()
  .min(1)
  .max(260)
  .superRefine((value, ctx) => {
    const problem = problemWith(value);
    if (problem) ctx.addIssue({ code: 'custom', message: `egress destination "${value}": ${problem}; e.g. 10.20.0.0/16, 192.0.2.7:443 or db.internal:5432` });
  });

/** A role's list: at most 64 destinations, no duplicates. */
export const egressDestinationsSchema = z
  .array(egressDestinationSchema)
  .max(64)
  .transform((list) => [...new Set(list)]);
