/** The worker process: runs session workflows and their activities on one Docker host. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadWorkerConfig } from '../core/config.js';
import { migrateToLatest, openDatabase } from '../core/db/orm.js';
import { createLogger } from '../core/logger.js';
import { startTracing } from '../core/tracing.js';
import { createSessionWorker, type SessionWorkerOptions } from './session-worker.js';
import { installTemporalRuntime } from './temporal-runtime.js';
import { WORKFLOW_BUNDLE_FILE } from './workflow-bundle.js';

async function main(): Promise<void> {
  // What this process creates in the data directory (database, CA, routes, session files) is for
  // its own user only; files meant for others get an explicit mode where they are written.
  process.umask(0o077);
  const config = loadWorkerConfig(process.env);
  // Before anything that makes spans: the provider is global.
  const tracing = startTracing('worker', process.env);
  const logger = createLogger({ level: config.logLevel, service: 'worker', json: config.env === 'production' ? true : undefined });
  installTemporalRuntime(logger, { metricsAddress: config.temporalMetricsAddress });

  const db = await openDatabase(config.db);
  await migrateToLatest(db, config.db.driver);
  const sessionWorker = await createSessionWorker({ config, logger, db, workflows: workflowCode(), tracing });
  logger.info('worker started', { taskQueue: config.temporal.taskQueue, temporal: config.temporal.address, tracing: tracing.enabled });
  // The SDK shuts the worker down gracefully on SIGINT/SIGTERM; run() resolves afterwards.
  await sessionWorker.run();
  await sessionWorker.close();
  await db.close();
  await tracing.shutdown();
  logger.info('worker stopped');
}

/**
 * The prebuilt bundle (dist/); run from the sources (`tsx worker/main.ts`), the workflows are
 * bundled at start instead.
 */
function workflowCode(): SessionWorkerOptions['workflows'] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const bundlePath = path.join(here, '..', WORKFLOW_BUNDLE_FILE);
  if (existsSync(bundlePath)) return { workflowBundle: { codePath: bundlePath } };
  return { workflowsPath: path.join(here, '..', 'workflows', 'index.ts') };
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error('worker failed:', err);
  process.exit(1);
});
