/**
 * The API's Redis lock against a real Redis, used by several processes at once (one connection
 * each here): a critical section that outlasts the lease keeps the lock (renewal), and a holder
 * whose lease is gone learns it before it writes (the fence).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisMutex } from '../../api/redis-mutex.js';
import { startRedis } from '../support/redis-server.js';

let redis: Awaited<ReturnType<typeof startRedis>>;
const clients: Redis[] = [];
const connect = () => {
  const c = new Redis(redis.url);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

describe('RedisMutex', () => {
  it('never lets two holders overlap, even when each holds it three times longer than the lease', async () => {
    // A lease long enough that its renewal (every third of it) outlasts the stalls of a busy host:
    // at 300 ms, a stall of 200 ms of this process or of Redis while the suite's other lane ran
    // let a lease lapse, and the fence rightly refused its holder.
    const mutexes = [0, 1, 2].map(() => new RedisMutex(connect(), { leaseMs: 1_000, waitMs: 20_000 }));
    const spans: Array<[number, number]> = [];
    await Promise.all(
      mutexes.map((m) =>
        m.withLock('quota:u-1', async (lock) => {
          const start = Date.now();
          await new Promise((r) => setTimeout(r, 3_000));
          await lock.assertHeld();
          spans.push([start, Date.now()]);
        }),
      ),
    );
    spans.sort((a, b) => a[0] - b[0]);
    expect(spans).toHaveLength(3);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });

  it('tells a holder whose lease is gone (taken by another) before it writes', async () => {
    const raw = connect();
    const m = new RedisMutex(connect(), { leaseMs: 5_000, waitMs: 1_000 });
    await expect(
      m.withLock('admins', async (lock) => {
        // As if this process had frozen past its lease and another had taken the lock.
        await raw.set('hackstream:lock:admins', 'someone-else');
        await lock.assertHeld();
      }),
    ).rejects.toMatchObject({ status: 503, code: 'busy' });
    // The lock that is not ours is left to its owner.
    expect(await raw.get('hackstream:lock:admins')).toBe('someone-else');
  });
});
