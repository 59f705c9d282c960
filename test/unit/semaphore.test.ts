import argon2 from 'argon2';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_HASH_CONCURRENCY, HASHING_BUSY, limitConcurrentHashes, verifyPassword } from '../../api/auth/passwords.js';
import { HttpError } from '../../api/http-error.js';
import { Semaphore, SemaphoreFullError } from '../../api/semaphore.js';

/** A task that stays running until released, recording how many ran at once. */
function probe() {
  let running = 0;
  let peak = 0;
  const releases: (() => void)[] = [];
  const task = async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((r) => releases.push(r));
    running--;
  };
  return { task, peak: () => peak, releaseAll: () => releases.splice(0).forEach((r) => r()), pending: () => releases.length };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('Semaphore', () => {
  it('never runs more than its limit at once, and runs the waiters in order as slots free', async () => {
    const s = new Semaphore(3, { maxWaiting: 100, maxWaitMs: 10_000 });
    const p = probe();
    const order: number[] = [];
    const all = Array.from({ length: 10 }, (_, i) => s.run(async () => { order.push(i); await p.task(); }));
    for (let round = 0; round < 4; round++) {
      await settle();
      expect(s.inFlight).toBeLessThanOrEqual(3);
      p.releaseAll();
    }
    await Promise.all(all);
    expect(p.peak()).toBe(3);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(s.inFlight).toBe(0);
  });

  it('refuses at once beyond the waiting room, and a waiter after maxWaitMs', async () => {
    const s = new Semaphore(1, { maxWaiting: 2, maxWaitMs: 50 });
    const p = probe();
    const outcome = (promise: Promise<unknown>) => promise.then((v) => v, (err: unknown) => err);
    const holder = s.run(p.task);
    const waiters = [outcome(s.run(async () => 'ran')), outcome(s.run(async () => 'ran'))];
    const refused = [outcome(s.run(async () => 'ran')), outcome(s.run(async () => 'ran'))];
    // Refused before any timer could fire: no waiting in line for them.
    const first = await Promise.race([Promise.all(refused), settle().then(() => 'still waiting')]);
    expect(first).toEqual([expect.any(SemaphoreFullError), expect.any(SemaphoreFullError)]);
    expect(await Promise.all(waiters)).toEqual([expect.objectContaining({ message: expect.stringMatching(/within 50 ms/) }), expect.any(SemaphoreFullError)]);
    expect(s.inFlight).toBe(1);
    p.releaseAll();
    await holder;
    await expect(s.run(async () => 'ran')).resolves.toBe('ran');
  });

  it('frees the slot when a task throws', async () => {
    const s = new Semaphore(1, { maxWaiting: 0, maxWaitMs: 10 });
    await expect(s.run(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(s.run(async () => 'ok')).resolves.toBe('ok');
  });
});

describe('password hashing', () => {
  afterAll(() => limitConcurrentHashes(DEFAULT_HASH_CONCURRENCY));

  it('runs at most the configured number of hashes; a few wait, the rest get 503 with Retry-After', async () => {
    limitConcurrentHashes(1);
    const hash = await argon2.hash('correct horse');
    // One runs, four (four per slot) wait their turn, five are refused at once.
    const results = await Promise.all(Array.from({ length: 10 }, () => verifyPassword(hash, 'wrong').then((v) => v, (err: unknown) => err)));
    const refused = results.filter((r) => r instanceof HttpError);
    expect(results.filter((r) => r === false)).toHaveLength(5);
    expect(refused).toHaveLength(5);
    for (const err of refused) {
      expect(err.status).toBe(503);
      expect(err.code).toBe(HASHING_BUSY);
      expect(Number(err.headers['Retry-After'])).toBeGreaterThan(0);
    }
    // Once the burst is over, checks work again.
    await expect(verifyPassword(hash, 'correct horse')).resolves.toBe(true);
  });
});
