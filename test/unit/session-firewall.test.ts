import { describe, expect, it } from 'vitest';
import {
  CHAINS,
  REFUSED_IPV4_RANGES,
  SessionFirewall,
  ipv4Rules,
  openingRules,
  sessionBridgeName,
  splitRule,
  type PacketFilter,
} from '../../activities/session-firewall.js';

/** Records commands and keeps the openings chain's rules the way `iptables -S` prints them. */
function recordingFilter(): PacketFilter & { calls: string[]; openings: string[] } {
  const calls: string[] = [];
  const openings: string[] = [];
  return {
    calls,
    openings,
    async restore(family, rules) {
      calls.push(`restore${family}:${rules.split('\n').length}`);
    },
    async run(family, args) {
      calls.push(`${family}:${args.join(' ')}`);
      if (args[0] === '-S') return { code: 0, stdout: [`-N ${CHAINS.openings}`, ...openings].join('\n') + '\n', stderr: '' };
      // As iptables prints them: the comment in double quotes.
      const printed = (rule: string[]) => rule.map((a, i) => (rule[i - 1] === '--comment' ? `"${a}"` : a)).join(' ');
      if (args[0] === '-A') openings.push(printed(args));
      if (args[0] === '-D') {
        const line = `-A ${printed(args.slice(1))}`;
        const i = openings.indexOf(line);
        if (i < 0) return { code: 1, stdout: '', stderr: 'Bad rule (does a matching rule exist in that chain?).' };
        openings.splice(i, 1);
      }
      if (args[0] === '-C') return { code: 1, stdout: '', stderr: '' };
      return { code: 0, stdout: '', stderr: '' };
    },
  };
}

describe('session firewall rules', () => {
  it('names each session bridge hs- and 12 hex digits, within Linux 15 characters', () => {
    const name = sessionBridgeName('0b6f0e2c-8d0e-4c1e-9a53-3b3c6f6f9d21');
    expect(name).toMatch(/^hs-[0-9a-f]{12}$/);
    expect(name.length).toBeLessThanOrEqual(15);
    expect(sessionBridgeName('other')).not.toBe(name);
  });

  it('lets only the ingress group open connections into sessions, and nothing in from other networks', () => {
    const rules = ipv4Rules('hackstream-ingress').split('\n');
    const output = rules.filter((r) => r.startsWith(`-A ${CHAINS.output}`));
    expect(output).toEqual([
      `-A ${CHAINS.output} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
      `-A ${CHAINS.output} -m owner --gid-owner hackstream-ingress -j ACCEPT`,
      `-A ${CHAINS.output} -p tcp -j REJECT --reject-with tcp-reset`,
      `-A ${CHAINS.output} -j REJECT --reject-with icmp-admin-prohibited`,
    ]);
    const forward = rules.filter((r) => r.startsWith(`-A ${CHAINS.forward}`));
    // Replies first, then nothing new into any session network, then the openings, then the refusals.
    expect(forward[0]).toContain('ESTABLISHED,RELATED -j RETURN');
    expect(forward[1]).toBe(`-A ${CHAINS.forward} -o hs-+ -j DROP`);
    expect(forward[2]).toBe(`-A ${CHAINS.forward} -i hs-+ -j ${CHAINS.openings}`);
    for (const range of ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10']) {
      expect(forward).toContain(`-A ${CHAINS.forward} -i hs-+ -d ${range} -j REJECT --reject-with icmp-admin-prohibited`);
    }
    expect(forward).toHaveLength(3 + REFUSED_IPV4_RANGES.length);
  });

  it('lets a remote ingress’s addresses in to sessions’ xpra ports only, ahead of the drop', () => {
    const forward = ipv4Rules('hackstream-ingress', ['10.250.0.1/32', '192.0.2.0/24'])
      .split('\n')
      .filter((r) => r.startsWith(`-A ${CHAINS.forward}`));
    expect(forward.slice(1, 4)).toEqual([
      `-A ${CHAINS.forward} -o hs-+ -s 10.250.0.1/32 -p tcp -m multiport --dports 14500,14501 -j ACCEPT`,
      `-A ${CHAINS.forward} -o hs-+ -s 192.0.2.0/24 -p tcp -m multiport --dports 14500,14501 -j ACCEPT`,
      `-A ${CHAINS.forward} -o hs-+ -j DROP`,
    ]);
  });

  it('opens a port for TCP and UDP, every port otherwise, tagged with the session', () => {
    const rules = openingRules('s1', [{ address: '10.9.0.0/16' }, { address: '192.0.2.7', port: 5432 }]);
    const bridge = sessionBridgeName('s1');
    expect(rules).toEqual([
      ['-i', bridge, '-d', '10.9.0.0/16', '-m', 'comment', '--comment', 'hackstream-session=s1', '-j', 'ACCEPT'],
      ['-i', bridge, '-d', '192.0.2.7', '-p', 'tcp', '--dport', '5432', '-m', 'comment', '--comment', 'hackstream-session=s1', '-j', 'ACCEPT'],
      ['-i', bridge, '-d', '192.0.2.7', '-p', 'udp', '--dport', '5432', '-m', 'comment', '--comment', 'hackstream-session=s1', '-j', 'ACCEPT'],
    ]);
  });
});

describe('SessionFirewall', () => {
  it('resolves host names at open, replaces a session’s earlier openings, and closes only its own', async () => {
    const filter = recordingFilter();
    const firewall = new SessionFirewall(filter, { ingressGroup: 'g', resolve: async (h) => (h === 'db.internal' ? ['10.1.2.3', '10.1.2.4'] : []) });
    await firewall.open('s1', ['db.internal:5432']);
    await firewall.open('s2', ['10.7.0.0/16']);
    expect(filter.openings).toHaveLength(5);
    await firewall.open('s1', ['10.8.0.1']);
    expect(filter.openings.filter((r) => r.includes('hackstream-session=s1'))).toEqual([
      `-A ${CHAINS.openings} -i ${sessionBridgeName('s1')} -d 10.8.0.1 -m comment --comment "hackstream-session=s1" -j ACCEPT`,
    ]);
    await firewall.close('s1');
    await firewall.close('s1');
    expect(filter.openings).toEqual([`-A ${CHAINS.openings} -i ${sessionBridgeName('s2')} -d 10.7.0.0/16 -m comment --comment "hackstream-session=s2" -j ACCEPT`]);
  });

  it('refuses a host name without an IPv4 address, opening nothing', async () => {
    const filter = recordingFilter();
    const firewall = new SessionFirewall(filter, { ingressGroup: 'g', resolve: async () => [] });
    await expect(firewall.open('s1', ['10.1.0.0/16', 'nowhere.example'])).rejects.toThrow('nowhere.example has no IPv4 address');
    expect(filter.openings).toEqual([]);
  });

  it('reads rules back as iptables -S prints them', () => {
    expect(splitRule('-A HS-SESSION-OPENINGS -d 10.254.77.7/32 -i hs-5653a8406e13 -p tcp -m tcp --dport 8099 -m comment --comment "hackstream-session=f9a0" -j ACCEPT')).toEqual(
      ['-A', 'HS-SESSION-OPENINGS', '-d', '10.254.77.7/32', '-i', 'hs-5653a8406e13', '-p', 'tcp', '-m', 'tcp', '--dport', '8099', '-m', 'comment', '--comment', 'hackstream-session=f9a0', '-j', 'ACCEPT'],
    );
  });

  it('hooks its chains into the built-in ones once', async () => {
    const filter = recordingFilter();
    await new SessionFirewall(filter, { ingressGroup: 'g' }).install();
    expect(filter.calls.filter((c) => c.startsWith('4:-I '))).toEqual([
      `4:-I INPUT 1 -i hs-+ -j ${CHAINS.input}`,
      `4:-I OUTPUT 1 -o hs-+ -j ${CHAINS.output}`,
      `4:-I DOCKER-USER 1 -i hs-+ -j ${CHAINS.forward}`,
      `4:-I DOCKER-USER 1 -o hs-+ -j ${CHAINS.forward}`,
    ]);
    expect(filter.calls.filter((c) => c.startsWith('6:-I FORWARD'))).toHaveLength(2);
  });
});
