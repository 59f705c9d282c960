/**
 * A task the worker repeats on an interval for as long as it runs (the node's heartbeat, the
 * look for lost nodes): never two runs at once (a slow database skips a beat rather than piling
 * them up), and the timer keeps no process alive. The task handles its own errors.
 */
export function repeatEvery(seconds: number, task: () => Promise<void>): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void task().finally(() => (running = false));
  }, seconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
