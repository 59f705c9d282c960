/**
 * A counting semaphore with a bounded wait: at most `limit` tasks run at once, at most
 * `maxWaiting` wait for a slot, and none waits longer than `maxWaitMs`. Anything beyond is refused
 * at once with `SemaphoreFullError`, so a burst costs bounded memory and latency instead of an
 * unbounded queue (the caller answers 503 and the client retries).
 */
export class SemaphoreFullError extends Error {
  override name = 'SemaphoreFullError';
}

interface Waiter {
  grant(): void;
  timer: NodeJS.Timeout;
}

export class Semaphore {
  private running = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly limit: number,
    private readonly opts: { maxWaiting: number; maxWaitMs: number },
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, not ${limit}`);
  }

  /** Tasks running now (for tests and metrics). */
  get inFlight(): number {
    return this.running;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.limit) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiters.length >= this.opts.maxWaiting) return Promise.reject(new SemaphoreFullError('all slots are busy and the queue is full'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new SemaphoreFullError(`no slot became free within ${this.opts.maxWaitMs} ms`));
        }, this.opts.maxWaitMs),
      };
      waiter.timer.unref();
      this.waiters.push(waiter);
    });
  }

  private release(): void {
    const next = this.waiters.shift();
    // The slot passes straight to the next waiter, so a newcomer cannot overtake the queue.
    if (next) next.grant();
    else this.running--;
  }
}
