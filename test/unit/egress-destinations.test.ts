import { describe, expect, it } from 'vitest';
import { egressDestinationsSchema, parseEgressDestination } from '../../core/egress-destinations.js';

describe('egress destinations', () => {
  it('takes IPv4 addresses, CIDRs and host names, each with an optional port', () => {
    expect(parseEgressDestination('10.20.0.0/16')).toEqual({ host: '10.20.0.0/16' });
    expect(parseEgressDestination('192.0.2.7:443')).toEqual({ host: '192.0.2.7', port: 443 });
    expect(parseEgressDestination('db.internal:5432')).toEqual({ host: 'db.internal', port: 5432 });
    expect(parseEgressDestination('10.0.0.0/8:22')).toEqual({ host: '10.0.0.0/8', port: 22 });
  });

  it.each([
    ['fd00::1', /IPv6/],
    ['10.0.0.256', /not an IPv4 address/],
    ['0.0.0.0/0', /whole internet/],
    ['10.0.0.0/33', /prefix/],
    ['host:70000', /port 70000/],
    ['bad_host!', /not an IPv4 address, CIDR or host name/],
    ['a b', /not an IPv4 address, CIDR or host name/],
  ])('refuses %s, saying why', (value, why) => {
    expect(() => parseEgressDestination(value)).toThrow(why);
    const parsed = egressDestinationsSchema.safeParse([value]);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toMatch(why);
  });

  it('keeps one of each destination', () => {
    expect(egressDestinationsSchema.parse(['10.1.0.0/16', ' 10.1.0.0/16 ', 'a.example'])).toEqual(['10.1.0.0/16', 'a.example']);
  });
});
