/**
 * The worker's start admission: at most N starts at once, a user's start before a warm-up that
 * waits with it, and a start abandoned while waiting never runs.
 */
import { describe, expect, it } from 'vitest';
import { START_PRIORITY, StartAdmission } from '../../activities/start-admission.js';

/** A start that runs until released, recording when it began. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    start: async () => {
      log.push(name);
      await done;
      return name;
    },
    release: () => release(),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('the start admission', () => {
  it('runs at most its concurrency at once; the rest wait and run as slots free', async () => {
    const admission = new StartAdmission(2);
    const began: string[] = [];
    const starts = ['a', 'b', 'c', 'd'].map((n) => gate(began, n));
    const results = starts.map((s) => admission.run(s.start, { priority: START_PRIORITY.user }));
    await tick();
    expect(began).toEqual(['a', 'b']);
    expect(admission.load).toEqual({ waiting: 2, running: 2 });
    starts[0]!.release();
    await tick();
    expect(began).toEqual(['a', 'b', 'c']);
    for (const s of starts) s.release();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd']);
    expect(admission.load).toEqual({ waiting: 0, running: 0 });
  });

  it("lets a user's start go before warm-ups queued earlier", async () => {
    const admission = new StartAdmission(1);
    const began: string[] = [];
    const running = gate(began, 'running');
    const warm = gate(began, 'warm');
    const user = gate(began, 'user');
    const all = [
      admission.run(running.start, { priority: START_PRIORITY.warm }),
      admission.run(warm.start, { priority: START_PRIORITY.warm }),
      admission.run(user.start, { priority: START_PRIORITY.user }),
    ];
    await tick();
    running.release();
    await tick();
    expect(began).toEqual(['running', 'user']);
    user.release();
    warm.release();
    await Promise.all(all);
    expect(began).toEqual(['running', 'user', 'warm']);
  });

  it('drops a waiting start whose session was cancelled, with the reason, and never runs it', async () => {
    const admission = new StartAdmission(1);
    const began: string[] = [];
    const first = gate(began, 'first');
    const abandoned = gate(began, 'abandoned');
    const cancel = new AbortController();
    const running = admission.run(first.start, { priority: START_PRIORITY.user });
    const waiting = admission.run(abandoned.start, { priority: START_PRIORITY.user, signal: cancel.signal });
    await tick();
    cancel.abort(new Error('session stopped'));
    await expect(waiting).rejects.toThrow('session stopped');
    first.release();
    await running;
    await tick();
    expect(began).toEqual(['first']);
    expect(admission.load).toEqual({ waiting: 0, running: 0 });
  });

  it('lets a start already under way when its session is cancelled run to its end, holding its slot', async () => {
    const admission = new StartAdmission(1);
    const began: string[] = [];
    const underWay = gate(began, 'under way');
    const next = gate(began, 'next');
    const cancel = new AbortController();
    let settled = false;
    const first = admission.run(underWay.start, { priority: START_PRIORITY.user, signal: cancel.signal }).finally(() => (settled = true));
    const second = admission.run(next.start, { priority: START_PRIORITY.user });
    await tick();
    cancel.abort(new Error('session stopped'));
    await tick();
    expect(settled).toBe(false);
    expect(began).toEqual(['under way']);
    expect(admission.load).toEqual({ waiting: 1, running: 1 });
    underWay.release();
    expect(await first).toBe('under way');
    await tick();
    expect(began).toEqual(['under way', 'next']);
    next.release();
    await second;
  });
});
