import { describe, expect, it } from 'vitest';
import { throttleAddressKey } from '../../api/auth/address-key.js';

describe('throttleAddressKey', () => {
  it('counts IPv4 per address', () => {
    expect(throttleAddressKey('198.51.100.7')).toBe('198.51.100.7');
    expect(throttleAddressKey('198.51.100.8')).not.toBe(throttleAddressKey('198.51.100.7'));
  });

  it('counts IPv6 per /64, however the address is written', () => {
    const key = throttleAddressKey('2001:db8:1:2::1');
    expect(key).toBe('2001:db8:1:2::/64');
    for (const same of ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0DB8:0001:0002:0:0:0:abcd', '2001:db8:1:2:a:b:c:d', 'fe80::1%eth0'.replace('fe80::1', '2001:db8:1:2::9')]) {
      expect(throttleAddressKey(same), same).toBe(key);
    }
    expect(throttleAddressKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(throttleAddressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(throttleAddressKey('::1')).toBe('0:0:0:0::/64');
    expect(throttleAddressKey('::')).toBe('0:0:0:0::/64');
    expect(throttleAddressKey('2001:db8:1:2:3:4:1.2.3.4')).toBe('2001:db8:1:2::/64');
  });

  it('counts an IPv4-mapped IPv6 address as the IPv4 address', () => {
    expect(throttleAddressKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(throttleAddressKey('::FFFF:c633:6407')).toBe('198.51.100.7');
    expect(throttleAddressKey('0:0:0:0:0:ffff:198.51.100.7')).toBe('198.51.100.7');
    // Not mapped: ::fffe:… and 64:ff9b::… (NAT64) are IPv6 prefixes like any other.
    expect(throttleAddressKey('::fffe:198.51.100.7')).toBe('0:0:0:0::/64');
  });

  it('keeps anything that is not an address as its own key', () => {
    expect(throttleAddressKey('')).toBe('');
    expect(throttleAddressKey('not-an-ip')).toBe('not-an-ip');
  });
});
