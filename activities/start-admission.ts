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

  /** Runs `start` once a slot is free; rejects with the signal's reason if aborted while waiting. */
  run<T>(start: () => Promise<T>, opts: { priority: number; signal?: AbortSignal }): Promise<T> {
    return this.queue.add(start, opts);
  }

  /** Starts waiting for a slot, and starts under way. */
  get load(): { waiting: number; running: number } {
    return { waiting: this.queue.size, running: this.queue.pending };
  }
}
