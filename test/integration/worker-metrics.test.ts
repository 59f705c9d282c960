/**
 * The worker's metrics against the real stack: a cold start shows as a start under way in
 * `hackstream_worker_starts` while its container starts, and nothing is left waiting once the
 * session is ready (activities/start-admission.ts); a session's life shows in the live sessions by
 * state, in its activities' durations and in the ends by reason, counted once.
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

async function scrape(): Promise<(series: string) => number> {
  const text = await (await fetch(stack.workerMetricsUrl)).text();
  return (series) => metricValue(text, series) ?? NaN;
}

async function until(what: string, probe: () => Promise<boolean>, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const provisioned = 'hackstream_activity_duration_seconds_count{activity="provisionSession",outcome="completed"}';
const provisionFailed = 'hackstream_activity_duration_seconds_count{activity="provisionSession",outcome="failed"}';
const userStops = 'hackstream_session_ends_total{reason="user_stop"}';

describe("the worker's metrics", () => {
  it("show a session's life: live by state, its activities timed, its end counted once by reason", async () => {
    const user = await t.newUser();
    const before = await scrape();
    // Every series from zero, before anything happened to it.
    expect(before(provisionFailed)).toBeGreaterThanOrEqual(0);
    expect(before('hackstream_session_ends_total{reason="workflow_lost"}')).toBeGreaterThanOrEqual(0);
    expect(before('hackstream_sessions{state="stopping"}')).toBeGreaterThanOrEqual(0);

    const session = await t.startSession(user.token);
    // Stack-wide figures: sessions of earlier test files may still end meanwhile, so at least.
    const ready = await scrape();
    expect(ready('hackstream_sessions{state="ready"}')).toBeGreaterThanOrEqual(1);
    expect(ready(provisioned)).toBeGreaterThanOrEqual(before(provisioned) + 1);
    expect(ready('hackstream_activity_duration_seconds_bucket{le="+Inf",activity="provisionSession",outcome="completed"}')).toBe(ready(provisioned));
    expect(ready('hackstream_activity_duration_seconds_sum{activity="provisionSession",outcome="completed"}')).toBeGreaterThan(
      before('hackstream_activity_duration_seconds_sum{activity="provisionSession",outcome="completed"}'),
    );

    const stop = await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: user.token });
    expect([200, 202]).toContain(stop.status);
    await until('the stop was not counted', async () => (await scrape())(userStops) >= before(userStops) + 1, 60);
    const after = await scrape();
    expect(after('hackstream_activity_duration_seconds_count{activity="removeSession",outcome="completed"}')).toBeGreaterThan(
      before('hackstream_activity_duration_seconds_count{activity="removeSession",outcome="completed"}'),
    );
  });

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
