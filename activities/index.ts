/**
 * Every activity the worker registers, composed from the modules that implement them: the
 * session's own steps (activities/session-activities.ts), the warm pools'
 * (activities/warm-pool-activities.ts) and the session watcher (activities/session-watcher.ts).
 * Each takes one narrow interface per external system, so the worker passes real implementations
 * and unit tests pass fakes.
 */
import { sessionActivities, type SessionActivityDeps } from './session-activities.js';
import { watcherActivities, type WatcherDeps } from './session-watcher.js';
import { warmPoolActivities, type WarmPoolDeps } from './warm-pool-activities.js';

export type ActivityDeps = SessionActivityDeps & WarmPoolDeps & WatcherDeps;

export function createActivities(deps: ActivityDeps) {
  return { ...sessionActivities(deps), ...warmPoolActivities(deps), ...watcherActivities(deps) };
}

export type SessionActivities = ReturnType<typeof createActivities>;

export type { SessionAuditEvent } from './session-activities.js';
export type { WatchInput, WatchResult } from './session-watcher.js';
export { drainPools } from './warm-pool-activities.js';
