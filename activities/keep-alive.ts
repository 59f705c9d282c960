/**
 * Heartbeats for an activity while it works, whatever step it is in. An activity whose worker
 * died is only noticed by its heartbeat timeout; the schedules that run our passes start no new
 * run while one is open, so that timeout must be short and a slow step (dockerd busy) must not
 * trip it while the worker is alive.
 */
import { Context } from '@temporalio/activity';

/** How often: well inside the 30-second heartbeat timeouts the workflows give these activities. */
export const KEEP_ALIVE_MS = 5_000;

export async function whileHeartbeating<T>(work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const alive = setInterval(() => ctx.heartbeat(), KEEP_ALIVE_MS);
  try {
    return await work();
  } finally {
    clearInterval(alive);
  }
}
