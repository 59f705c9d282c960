/** Where the prebuilt workflow bundle (scripts/build-workflow-bundle.ts) lies, relative to dist/. */
export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';
