/**
 * The session watcher: which signals the workflow gets from successive observations of xpra
 * (ActivityTracker, with explicit clocks), and the activity's loop in Temporal's mock activity
 * environment (heartbeats, signals, the container's exit).
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { ActivityTracker, StreamSampler, watcherActivities, type StreamSample, type WatchInput } from '../../activities/session-watcher.js';
import type { ContainerState } from '../../activities/docker-session-runtime.js';
import type { XpraStatus, XpraStream } from '../../activities/xpra-info.js';

const stream = (bytesSent: number | null, over: Partial<XpraStream> = {}): XpraStream => ({
  roundTripMs: 12,
  bytesSent,
  framesPerSecond: 24,
  quality: 80,
  encodings: ['h264'],
  ...over,
});
const status = (clients: number, minIdleSeconds: number | null, damageEvents = 0, streams: XpraStream[] = []): XpraStatus => ({
  clients,
  minIdleSeconds,
  damageEvents,
  windows: [],
  streams,
});
const T0 = 1_700_000_000_000;

describe('ActivityTracker', () => {
  const fresh = () => new ActivityTracker({ pollSeconds: 5, idleSeconds: 250, alreadyAttached: false, lastActivityAt: null });

  it('signals nothing while no client is attached, or when xpra does not answer', () => {
    const t = fresh();
    expect(t.observe(status(0, null), T0)).toEqual({});
    expect(t.observe(null, T0 + 5000)).toEqual({});
  });

  it('reports the first attach once, at the observation', () => {
    const t = fresh();
    expect(t.observe(status(1, 0), T0)).toEqual({ attached: { at: T0 } });
    expect(t.observe(status(1, 0), T0 + 5000).attached).toBeUndefined();
  });

  it('heartbeats input at most every fifth of the idle timeout (and never more often than it polls)', () => {
    const t = fresh();
    expect(t.minSignalGapMs).toBe(50_000);
    t.observe(status(1, 0), T0);
    // Input 1 s before each observation: too soon after the attach, then due, then too soon again.
    expect(t.observe(status(1, 1), T0 + 30_000)).toEqual({});
    expect(t.observe(status(1, 1), T0 + 61_000)).toEqual({ heartbeat: { at: T0 + 60_000 } });
    expect(t.observe(status(1, 1), T0 + 100_000)).toEqual({});
    // At most a minute apart however long the idle timeout.
    expect(new ActivityTracker({ pollSeconds: 5, idleSeconds: 600, alreadyAttached: true, lastActivityAt: null }).minSignalGapMs).toBe(60_000);
    expect(new ActivityTracker({ pollSeconds: 5, idleSeconds: 10, alreadyAttached: true, lastActivityAt: null }).minSignalGapMs).toBe(5000);
    expect(new ActivityTracker({ pollSeconds: 5, idleSeconds: 86_400, alreadyAttached: true, lastActivityAt: null }).minSignalGapMs).toBe(60_000);
  });

  it('counts screen updates while a client watches as activity, but not the first count it sees', () => {
    const t = new ActivityTracker({ pollSeconds: 5, idleSeconds: 250, alreadyAttached: true, lastActivityAt: T0 });
    // Idle input for an hour: only damage can make it active.
    expect(t.observe(status(1, 3600, 10), T0 + 130_000)).toEqual({});
    expect(t.observe(status(1, 3600, 10), T0 + 135_000)).toEqual({});
    expect(t.observe(status(1, 3600, 11), T0 + 140_000)).toEqual({ heartbeat: { at: T0 + 140_000 } });
    // A client that leaves and comes back starts counting again.
    expect(t.observe(status(0, null), T0 + 400_000)).toEqual({});
    expect(t.observe(status(1, 3600, 50), T0 + 405_000)).toEqual({});
  });

  it('continues from the state carried over (continue-as-new): no second attach, the last heartbeat counts', () => {
    const t = new ActivityTracker({ pollSeconds: 5, idleSeconds: 250, alreadyAttached: true, lastActivityAt: T0 });
    expect(t.observe(status(1, 0), T0 + 30_000)).toEqual({});
    expect(t.observe(status(1, 0), T0 + 60_000)).toEqual({ heartbeat: { at: T0 + 60_000 } });
  });
});

describe('StreamSampler', () => {
  it("gives each attached client's figures, its send rate from the growth of its byte counter between polls", () => {
    const s = new StreamSampler();
    const first = s.sample(status(2, 0, 0, [stream(1_000), stream(50_000, { roundTripMs: null, quality: null })]), T0);
    expect(first).toEqual([
      { roundTripSeconds: 0.012, bytesPerSecond: null, framesPerSecond: 24, quality: 80, encodings: ['h264'] },
      { roundTripSeconds: null, bytesPerSecond: null, framesPerSecond: 24, quality: null, encodings: ['h264'] },
    ]);
    const second = s.sample(status(2, 0, 0, [stream(501_000), stream(50_000)]), T0 + 2_000);
    expect(second.map((x) => x.bytesPerSecond)).toEqual([250_000, 0]);
  });

  it('gives no rate for a counter that went back (a new connection), nor when xpra does not answer', () => {
    const s = new StreamSampler();
    s.sample(status(1, 0, 0, [stream(900_000)]), T0);
    expect(s.sample(status(1, 0, 0, [stream(10_000)]), T0 + 1_000)[0]!.bytesPerSecond).toBeNull();
    expect(s.sample(status(1, 0, 0, [stream(30_000)]), T0 + 2_000)[0]!.bytesPerSecond).toBe(20_000);
    expect(s.sample(null, T0 + 3_000)).toEqual([]);
  });
});

describe('watchSession (mock activity environment)', () => {
  const input: WatchInput = { sessionId: 's-1', containerId: 'c-1', pollSeconds: 0.01, idleSeconds: 0.05, alreadyAttached: false, lastActivityAt: null };

  function scripted(states: (ContainerState | null)[], statuses: (XpraStatus | Error)[]) {
    const signals: string[] = [];
    const samples: StreamSample[] = [];
    let polls = 0;
    const activities = watcherActivities({
      runtime: {
        inspect: async () => states[Math.min(polls++, states.length - 1)] ?? null,
        xpraStatus: async () => {
          const next = statuses[Math.min(polls - 1, statuses.length - 1)]!;
          if (next instanceof Error) throw next;
          return next;
        },
      },
      events: {
        clientAttached: async (id) => void signals.push(`attached:${id}`),
        activityHeartbeat: async (id) => void signals.push(`heartbeat:${id}`),
      },
      metrics: { observeStream: (sample) => void samples.push(sample) },
    });
    return { activities, signals, samples, polls: () => polls };
  }

  it('heartbeats every poll, signals the attach and activity, and returns the exit code when the container ends', async () => {
    const running = { id: 'c-1', running: true, exitCode: null, imageId: 'sha256:i', pid: 4242 };
    const { activities, signals, samples, polls } = scripted(
      [running, running, running, running, running, { id: 'c-1', running: false, exitCode: 3, imageId: 'sha256:i', pid: null }],
      [status(0, null), new Error('xpra busy'), status(1, 0, 0, [stream(100)]), status(1, 0, 5, [stream(200)]), status(1, 0, 9, [stream(300)])],
    );
    const env = new MockActivityEnvironment();
    let heartbeats = 0;
    env.on('heartbeat', () => heartbeats++);
    const result = await env.run((i: WatchInput) => activities.watchSession(i), input);
    expect(result).toEqual({ exitCode: 3 });
    expect(polls()).toBe(6);
    expect(heartbeats).toBe(6);
    expect(signals[0]).toBe('attached:s-1');
    expect(signals.filter((s) => s === 'attached:s-1')).toHaveLength(1);
    expect(signals.slice(1).every((s) => s === 'heartbeat:s-1')).toBe(true);
    // One stream sample per poll with a client attached (three), rates from the second on.
    expect(samples).toHaveLength(3);
    expect(samples[0]!.bytesPerSecond).toBeNull();
    expect(samples.slice(1).every((x) => x.bytesPerSecond !== null && x.bytesPerSecond > 0)).toBe(true);
  });

  it('returns at once, with no exit code, when the container is already gone', async () => {
    const { activities, signals } = scripted([null], [status(1, 0)]);
    expect(await new MockActivityEnvironment().run((i: WatchInput) => activities.watchSession(i), input)).toEqual({ exitCode: null });
    expect(signals).toEqual([]);
  });

  it('stops when the workflow cancels it', async () => {
    const running = { id: 'c-1', running: true, exitCode: null, imageId: 'sha256:i', pid: 4242 };
    const { activities } = scripted([running], [status(0, null)]);
    const env = new MockActivityEnvironment();
    const watching = env.run((i: WatchInput) => activities.watchSession(i), input);
    setTimeout(() => env.cancel(), 50);
    await expect(watching).rejects.toThrow();
  });
});
