/**
 * How many session containers this worker starts at once. Starting the app and polling it until
 * its window is up costs CPU; many at once on a small host starve one another until none is
 * ready within the create timeout (the load benchmark's bursts, bench/results/load-bench.json).
 * Starts beyond the limit wait their turn, a user's before a pool's warm-up; a start whose
 * session is cancelled meanwhile (a stop, the API's create timeout) leaves the queue unstarted.
 */
import PQueue from 'p-queue';

/** A user waiting for a session goes before a container warmed ahead of demand. */
export const START_PRIORITY = { user: 1, warm: 0 } as const;

export class StartAdmission {
  private readonly queue: PQueue;

  constructor(readonly concurrency: number) {
    this.queue = new PQueue({ concurrency });
  }

  /**
   * Runs `start` once a slot is free; rejects with the signal's reason if aborted while waiting.
   * Once started, it runs to its end and holds its slot until then, whatever the signal does: a
   * start notices its cancellation itself, and one abandoned midway would finish creating a
   * container after its session's teardown. (The queue's own signal handling does abandon it,
   * so the queue is only given a signal that fires before the start.)
   */
  run<T>(start: () => Promise<T>, opts: { priority: number; signal?: AbortSignal }): Promise<T> {
    const { signal, priority } = opts;
    const waiting = new AbortController();
    const stopWaiting = () => waiting.abort(signal?.reason);
    signal?.addEventListener('abort', stopWaiting, { once: true });
    if (signal?.aborted) stopWaiting();
    const started = () => {
      signal?.removeEventListener('abort', stopWaiting);
      return start();
    };
    return this.queue.add(started, { priority, signal: waiting.signal }).finally(() => signal?.removeEventListener('abort', stopWaiting));
  }

  /** Starts waiting for a slot, and starts under way. */
  get load(): { waiting: number; running: number } {
    return { waiting: this.queue.size, running: this.queue.pending };
  }
}
