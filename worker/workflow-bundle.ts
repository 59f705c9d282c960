/** How the workflow code is put together: the prebuilt bundle's file and the interceptors it always carries. */
import { createRequire } from 'node:module';

/** Where the prebuilt workflow bundle (scripts/build-workflow-bundle.ts) lies, relative to dist/. */
export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

/**
 * Workflow interceptors, in every bundle whether tracing is on or not: they draw on the
 * workflow's seeded randomness (span ids), so a worker with them and one without would not
 * replay each other's histories. While tracing is off their spans go nowhere.
 */
export const WORKFLOW_INTERCEPTOR_MODULES = [createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];
