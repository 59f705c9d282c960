import { describe, expect, it } from 'vitest';
import { SubnetPool } from '../../activities/subnet-pool.js';

describe('the session subnet pool', () => {
  it('cuts a range into /28s, in order, from its network address', () => {
    const all = [...new SubnetPool('10.213.7.9/24').subnets()];
    expect(all).toHaveLength(16);
    expect(all.slice(0, 3)).toEqual(['10.213.7.0/28', '10.213.7.16/28', '10.213.7.32/28']);
    expect(all.at(-1)).toBe('10.213.7.240/28');
    expect([...new SubnetPool('10.213.0.0/16').subnets()]).toHaveLength(4096);
  });

  it('refuses a range smaller than one /28, or not IPv4', () => {
    expect(() => new SubnetPool('10.0.0.0/29')).toThrow(/smaller than one \/28/);
    expect(() => new SubnetPool('fd00::/64')).toThrow();
  });
});
