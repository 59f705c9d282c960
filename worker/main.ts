/** The worker process: runs session workflows and their activities on one Docker host. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadWorkerConfig } from '../core/config.js';
import { migrateToLatest, openDatabase } from '../core/db/orm.js';
import { createLogger } from '../core/logger.js';
import { createSessionWorker } from './session-worker.js';
import { installTemporalLogging } from './temporal-logging.js';
import { WORKFLOW_BUNDLE_FILE } from './workflow-bundle.js';

async function main(): Promise<void> {
  // What this process creates in the data directory (database, CA, routes, session files) is for
  // its own user only; files meant for others get an explicit mode where they are written.
  process.umask(0o077);
  const config = loadWorkerConfig(process.env);
  const logger = createLogger({ level: config.logLevel, service: 'worker', json: config.env === 'production' ? true : undefined });
  installTemporalLogging(logger);

  const db = await openDatabase(config.db);
  await migrateToLatest(db, config.db.driver);
  const bundlePath = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', WORKFLOW_BUNDLE_FILE);
  const sessionWorker = await createSessionWorker({ config, logger, db, workflows: { workflowBundle: { codePath: bundlePath } } });
  logger.info('worker started', { taskQueue: config.temporal.taskQueue, temporal: config.temporal.address });
  // The SDK shuts the worker down gracefully on SIGINT/SIGTERM; run() resolves afterwards.
  await sessionWorker.run();
  await sessionWorker.close();
  await db.close();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error('worker failed:', err);
  process.exit(1);
});
