/**
 * The host's packet filter around session networks (iptables, which drives nf_tables on current
 * Debian). Every session network's bridge is named `hs-…` (`sessionBridgeName`), so one fixed set
 * of rules covers all of them, in place before any session starts:
 *
 * - into a session (host → session, OUTPUT): only the ingress, whose process runs with the
 *   ingress group (HACKSTREAM_INGRESS_GROUP), opens connections; nothing is forwarded into a
 *   session network (other sessions, containers, the LAN), except replies and, on a session node
 *   whose ingress runs on another host, that ingress's connections (HACKSTREAM_INGRESS_SOURCES)
 *   to sessions' xpra ports;
 * - out of a session: nothing to the host itself (INPUT: the control plane's ports, Traefik, SSH,
 *   whatever listens), and, forwarded, nothing to private, shared, loopback, link-local, multicast
 *   or reserved ranges, unless an opening of the session's role lets it: the public internet only;
 * - IPv6 (session networks have none, but a bridge has link-local addresses): nothing either way.
 *
 * Openings are per session (`open`, before its container starts or when a warm one is claimed;
 * `close` at removal): ACCEPT rules for that session's bridge in the chain HS-SESSION-OPENINGS,
 * tagged with the session's id.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import { parseEgressDestination } from '../core/egress-destinations.js';
import { XPRA_PORTS } from '../core/ingress-names.js';

/** Every session network's bridge name starts with this (iptables' `hs-+` matches them all). */
export const SESSION_BRIDGE_PREFIX = 'hs-';
/** `hs-` and 12 hex digits of the session id's hash: Linux allows 15 characters. */
export const sessionBridgeName = (sessionId: string): string =>
  `${SESSION_BRIDGE_PREFIX}${createHash('sha256').update(sessionId).digest('hex').slice(0, 12)}`;

/** Ranges no session reaches unless an opening says so (RFC 1918, 6598, 5735, 3927, 6890). */
export const REFUSED_IPV4_RANGES = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
] as const;

export const CHAINS = { input: 'HS-SESSION-INPUT', output: 'HS-SESSION-OUTPUT', forward: 'HS-SESSION-FORWARD', openings: 'HS-SESSION-OPENINGS' } as const;

const ANY_SESSION = `${SESSION_BRIDGE_PREFIX}+`;
const REFUSE = '-j REJECT --reject-with icmp-admin-prohibited';
const REFUSE6 = '-j REJECT --reject-with icmp6-adm-prohibited';
const REPLIES = '-m conntrack --ctstate ESTABLISHED,RELATED';

/**
 * The fixed IPv4 rules, as `iptables-restore --noflush` input: declaring a chain flushes it.
 * `ingressSources`: where a remote ingress connects from (none when it is this host's).
 */
export function ipv4Rules(ingressGroup: string, ingressSources: readonly string[] = []): string {
  const { input, output, forward, openings } = CHAINS;
  return [
    '*filter',
    `:${input} - [0:0]`,
    `:${output} - [0:0]`,
    `:${forward} - [0:0]`,
    `-A ${input} ${REPLIES} -j ACCEPT`,
    `-A ${input} -p tcp -j REJECT --reject-with tcp-reset`,
    `-A ${input} ${REFUSE}`,
    `-A ${output} ${REPLIES} -j ACCEPT`,
    `-A ${output} -m owner --gid-owner ${ingressGroup} -j ACCEPT`,
    `-A ${output} -p tcp -j REJECT --reject-with tcp-reset`,
    `-A ${output} ${REFUSE}`,
    `-A ${forward} ${REPLIES} -j RETURN`,
    // ACCEPT, not RETURN: Docker's own FORWARD rules admit only published ports into a bridge.
    ...ingressSources.map((source) => `-A ${forward} -o ${ANY_SESSION} -s ${source} -p tcp -m multiport --dports ${XPRA_PORTS.join(',')} -j ACCEPT`),
    `-A ${forward} -o ${ANY_SESSION} -j DROP`,
    `-A ${forward} -i ${ANY_SESSION} -j ${openings}`,
    ...REFUSED_IPV4_RANGES.map((range) => `-A ${forward} -i ${ANY_SESSION} -d ${range} ${REFUSE}`),
    'COMMIT',
    '',
  ].join('\n');
}

/** The fixed IPv6 rules: no IPv6 between sessions and anything. */
export function ipv6Rules(): string {
  const { input, output, forward } = CHAINS;
  return [
    '*filter',
    `:${input} - [0:0]`,
    `:${output} - [0:0]`,
    `:${forward} - [0:0]`,
    `-A ${input} ${REFUSE6}`,
    `-A ${output} ${REFUSE6}`,
    `-A ${forward} ${REFUSE6}`,
    'COMMIT',
    '',
  ].join('\n');
}

/** Where the fixed chains hang off the built-in ones: [table chain, rule] (checked, then inserted first). */
export function jumps(family: 4 | 6): Array<[string, string[]]> {
  const { input, output, forward } = CHAINS;
  // Docker's FORWARD rules accept a bridge's traffic out; DOCKER-USER is the chain it leaves to
  // its users, ahead of its own. Without IPv6 networks Docker keeps no such chain for IPv6.
  const forwardChain = family === 4 ? 'DOCKER-USER' : 'FORWARD';
  return [
    ['INPUT', ['-i', ANY_SESSION, '-j', input]],
    ['OUTPUT', ['-o', ANY_SESSION, '-j', output]],
    [forwardChain, ['-i', ANY_SESSION, '-j', forward]],
    [forwardChain, ['-o', ANY_SESSION, '-j', forward]],
  ];
}

const tag = (sessionId: string) => `hackstream-session=${sessionId}`;

/** One session's openings as `iptables` argument lists (each appended to HS-SESSION-OPENINGS). */
export function openingRules(sessionId: string, addresses: readonly ResolvedOpening[]): string[][] {
  const base = ['-i', sessionBridgeName(sessionId)];
  const comment = ['-m', 'comment', '--comment', tag(sessionId)];
  return addresses.flatMap(({ address, port }) =>
    port === undefined
      ? [[...base, '-d', address, ...comment, '-j', 'ACCEPT']]
      : (['tcp', 'udp'] as const).map((proto) => [...base, '-d', address, '-p', proto, '--dport', String(port), ...comment, '-j', 'ACCEPT']),
  );
}

export type Resolve = (host: string) => Promise<string[]>;
const resolveIPv4: Resolve = async (host) => (await lookup(host, { all: true, family: 4 })).map((a) => a.address);

/** An egress opening as it is applied: an IPv4 address or CIDR, and a port or every port. */
export interface ResolvedOpening {
  address: string;
  port?: number;
}

/** A role's egress openings with their host names resolved (now: at the session's start). */
export async function resolveOpenings(destinations: readonly string[], resolve: Resolve = resolveIPv4): Promise<ResolvedOpening[]> {
  const addresses: ResolvedOpening[] = [];
  for (const raw of destinations) {
    const { host, port } = parseEgressDestination(raw);
    const resolved = host.includes('/') || isIPv4(host) ? [host] : await resolve(host);
    if (resolved.length === 0) throw new Error(`egress destination "${raw}": ${host} has no IPv4 address`);
    for (const address of resolved) addresses.push({ address, ...(port === undefined ? {} : { port }) });
  }
  return addresses;
}

/** Runs iptables' tools; the only place they are spawned (argument lists, never a shell). */
export interface PacketFilter {
  restore(family: 4 | 6, rules: string): Promise<void>;
  run(family: 4 | 6, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

export class IptablesPacketFilter implements PacketFilter {
  restore(family: 4 | 6, rules: string): Promise<void> {
    return this.spawn(family === 4 ? 'iptables-restore' : 'ip6tables-restore', ['--noflush', '-w', '10'], rules).then((r) => {
      if (r.code !== 0) throw new Error(`${family === 4 ? 'iptables' : 'ip6tables'}-restore failed: ${r.stderr.trim()}`);
    });
  }

  run(family: 4 | 6, args: string[]) {
    return this.spawn(family === 4 ? 'iptables' : 'ip6tables', ['-w', '10', ...args]);
  }

  private spawn(command: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (err) => reject(new Error(`cannot run ${command} (Debian package iptables): ${err.message}`)));
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      child.stdin.on('error', () => undefined); // it may exit before reading; its exit code tells
      child.stdin.end(input ?? '');
    });
  }
}

export interface SessionFirewallOptions {
  /** The group the ingress (Traefik) runs with: the one host identity that may open connections into sessions. */
  ingressGroup: string;
  /** Where a remote ingress connects from (IPv4 ranges); empty when the ingress is on this host. */
  ingressSources?: readonly string[];
  resolve?: Resolve;
}

export class SessionFirewall {
  private readonly resolve: Resolve;

  constructor(
    private readonly filter: PacketFilter,
    private readonly options: SessionFirewallOptions,
  ) {
    this.resolve = options.resolve ?? resolveIPv4;
  }

  /** Puts the fixed rules in place (idempotent; every worker does it at start, before any session). */
  async install(): Promise<void> {
    // First, since the forward chain jumps to it; never flushed here (it holds live sessions' openings).
    const created = await this.filter.run(4, ['-N', CHAINS.openings]);
    if (created.code !== 0 && !/exists/i.test(created.stderr)) throw new Error(`iptables -N ${CHAINS.openings}: ${created.stderr.trim()}`);
    try {
      await this.filter.restore(4, ipv4Rules(this.options.ingressGroup, this.options.ingressSources));
    } catch (err) {
      const message = (err as Error).message;
      if (/gid-owner/.test(message)) {
        throw new Error(`the ingress group "${this.options.ingressGroup}" does not exist (HACKSTREAM_INGRESS_GROUP): create it with \`groupadd --system ${this.options.ingressGroup}\` and run Traefik with it`, { cause: err });
      }
      throw err;
    }
    await this.hook(4);
    await this.filter.restore(6, ipv6Rules());
    await this.hook(6);
  }

  /** Lets the session reach its role's destinations (host names resolved now). Replaces earlier openings. */
  async open(sessionId: string, destinations: readonly string[]): Promise<void> {
    await this.close(sessionId);
    const addresses = await resolveOpenings(destinations, this.resolve);
    for (const rule of openingRules(sessionId, addresses)) await this.must(4, ['-A', CHAINS.openings, ...rule]);
  }

  /** Removes the session's openings ("none left" is done). */
  async close(sessionId: string): Promise<void> {
    const listed = await this.must(4, ['-S', CHAINS.openings]);
    const mine = listed
      .split('\n')
      .filter((line) => line.startsWith(`-A ${CHAINS.openings} `))
      .map(splitRule)
      .filter((args) => args.includes(tag(sessionId)));
    for (const args of mine) {
      const r = await this.filter.run(4, ['-D', ...args.slice(1)]);
      if (r.code !== 0 && !/does a matching rule exist|bad rule/i.test(r.stderr)) throw new Error(`iptables -D: ${r.stderr.trim()}`);
    }
  }

  private async hook(family: 4 | 6): Promise<void> {
    for (const [chain, rule] of jumps(family)) {
      const present = await this.filter.run(family, ['-C', chain, ...rule]);
      if (present.code === 0) continue;
      await this.must(family, ['-I', chain, '1', ...rule]);
    }
  }

  private async must(family: 4 | 6, args: string[]): Promise<string> {
    const r = await this.filter.run(family, args);
    if (r.code !== 0) throw new Error(`${family === 4 ? 'iptables' : 'ip6tables'} ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  }
}

/** `iptables -S` prints a rule's arguments space-separated, a comment in double quotes. */
export const splitRule = (line: string): string[] => [...line.trim().matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
