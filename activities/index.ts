/**
 * Every activity the worker registers, composed from the modules that implement them: the
 * session's own steps on the control queue (activities/session-activities.ts) and on its node
 * (activities/node-host-activities.ts), its key and certificate
 * (activities/session-certificates.ts), the warm pools' on each node
 * (activities/warm-containers.ts) and on the control queue (activities/warm-pool-ledger.ts; before
 * that, activities/warm-pool-activities.ts), the session watcher (activities/session-watcher.ts), an
 * account change's effect on the account's sessions (activities/account-access-activities.ts),
 * the reconciler (activities/reconciler.ts), a session's placement on a node
 * (activities/node-placement-activities.ts) and persistent profiles' usage
 * (activities/profile-ledger.ts).
 * Each takes one narrow interface per external system, so the worker passes real implementations
 * and unit tests pass fakes.
 */
import { accountAccessActivities, type AccountAccessDeps } from './account-access-activities.js';
import { nodeHostActivities, type NodeHostDeps } from './node-host-activities.js';
import { nodePlacementActivities, type NodePlacementDeps } from './node-placement-activities.js';
import { profileLedgerActivities, type ProfileLedgerDeps } from './profile-ledger.js';
import { reconcileActivities, type ReconcileDeps } from './reconciler.js';
import { sessionCertificateActivities } from './session-certificates.js';
import { sessionActivities, type SessionActivityDeps } from './session-activities.js';
import { watcherActivities, type WatcherDeps } from './session-watcher.js';
import { warmPoolActivities, type WarmPoolDeps } from './warm-pool-activities.js';
import { warmContainerActivities, type WarmContainerDeps } from './warm-containers.js';
import { warmPoolLedgerActivities, type WarmPoolLedgerDeps } from './warm-pool-ledger.js';

export type ActivityDeps = SessionActivityDeps &
  NodeHostDeps &
  WarmPoolDeps &
  WarmContainerDeps &
  WarmPoolLedgerDeps &
  WatcherDeps &
  AccountAccessDeps &
  ReconcileDeps &
  NodePlacementDeps &
  ProfileLedgerDeps;

export function createActivities(deps: ActivityDeps) {
  return {
    ...sessionActivities(deps),
    ...nodeHostActivities(deps),
    ...sessionCertificateActivities(deps),
    ...warmPoolActivities(deps),
    ...warmContainerActivities(deps),
    ...warmPoolLedgerActivities(deps),
    ...watcherActivities(deps),
    ...accountAccessActivities(deps),
    ...reconcileActivities(deps),
    ...nodePlacementActivities(deps),
    ...profileLedgerActivities(deps),
  };
}

export type SessionActivities = ReturnType<typeof createActivities>;

export type { SessionAuditEvent } from './session-activities.js';
export type { WatchInput, WatchResult } from './session-watcher.js';
export { drainPools } from './warm-pool-activities.js';
