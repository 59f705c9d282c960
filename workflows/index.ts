// The workflows this project's workers run (the entry point of the workflow bundle).
export { PoolWarmerWorkflow } from './pool-warmer-workflow.js';
export { SessionWorkflow } from './session-workflow.js';
export { AccountAccessWorkflow } from './account-access-workflow.js';
export { ReconcileWorkflow } from './reconcile-workflow.js';
export { ProfileDeletionWorkflow } from './profile-deletion-workflow.js';
