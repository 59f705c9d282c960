import { describe, expect, it } from 'vitest';
import { connectedRoutes, SubnetPool } from '../../activities/subnet-pool.js';

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

/** A host's /proc/net/route with a bridge a killed engine left (hs-ac16…, down, still routed). */
const ROUTE_TABLE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
hs-3624a0ce666d\t0000D50A\t00000000\t0001\t0\t0\t0\tF0FFFFFF\t0\t0\t0
hs-ac16ddb1b320\t3000D50A\t00000000\t0001\t0\t0\t0\tF0FFFFFF\t0\t0\t0
xw-host\t074DFE0A\t027100CB\t0007\t0\t0\t0\tFFFFFFFF\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;

describe("the host's routes", () => {
  it('are read from the kernel table: connected networks only, none through a gateway', () => {
    expect(connectedRoutes(ROUTE_TABLE)).toEqual([
      { network: '10.213.0.0', prefix: 28 },
      { network: '10.213.0.48', prefix: 28 },
      { network: '172.17.0.0', prefix: 16 },
      { network: '192.0.2.0', prefix: 24 },
    ]);
    expect(connectedRoutes('')).toEqual([]);
  });

  it("mark the pool's subnets they cover as taken, whatever their size, and nothing outside the pool", () => {
    const pool = new SubnetPool('10.213.0.0/16');
    expect([...pool.routedOnHost(connectedRoutes(ROUTE_TABLE))].sort()).toEqual(['10.213.0.0/28', '10.213.0.48/28']);
    expect([...pool.routedOnHost([{ network: '10.213.1.0', prefix: 26 }])]).toEqual(['10.213.1.0/28', '10.213.1.16/28', '10.213.1.32/28', '10.213.1.48/28']);
    expect(pool.routedOnHost([{ network: '10.213.0.50', prefix: 32 }])).toEqual(new Set(['10.213.0.48/28']));
    expect(pool.routedOnHost([{ network: '10.0.0.0', prefix: 8 }]).size).toBe(4096); // a route over the whole pool
    expect(pool.routedOnHost([{ network: '192.168.0.0', prefix: 16 }]).size).toBe(0);
  });
});
