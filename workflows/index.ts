// The workflows this project's workers run (the entry point of the workflow bundle).
export { SessionWorkflow } from './session-workflow.js';
