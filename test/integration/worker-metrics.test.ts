/**
 * The worker's metrics against the real stack: a cold start shows as a start under way in
 * `hackstream_worker_starts` while its container starts, and nothing is left waiting once the
 * session is ready (activities/start-admission.ts).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { metricValue } from '../support/prometheus.js';

const stack = inject('stack');
let t: ApiUnderTest;

beforeAll(async () => {
  t = await startApiUnderTest();
});

afterAll(async () => {
  await t?.close();
});

async function starts(): Promise<{ running: number; waiting: number }> {
  const text = await (await fetch(stack.workerMetricsUrl)).text();
  const value = (state: string) => metricValue(text, `hackstream_worker_starts{state="${state}"}`) ?? NaN;
  return { running: value('running'), waiting: value('waiting') };
}

describe("the worker's metrics", () => {
  it('count a cold start as under way while its container starts, and nothing waiting once it is ready', async () => {
    const user = await t.newUser();
    const before = await starts();
    expect(Number.isInteger(before.running) && Number.isInteger(before.waiting)).toBe(true);
    const creating = t.startSession(user.token);
    let seenRunning = 0;
    let settled = false;
    void creating.finally(() => (settled = true));
    while (!settled) {
      seenRunning = Math.max(seenRunning, (await starts()).running);
      await new Promise((r) => setTimeout(r, 50));
    }
    const session = await creating;
    expect(session.start).toBe('cold');
    expect(seenRunning).toBeGreaterThanOrEqual(1);
    expect((await starts()).waiting).toBe(0);
    await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: user.token });
  });
});
