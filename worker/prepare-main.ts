/**
 * The one-off preparation a deployment runs before its APIs and workers start (the Helm chart's
 * Job, at every install and upgrade): the database migrated to the latest schema and Temporal's
 * search attributes registered. The worker does both at its start too; run first, several API
 * replicas and workers never race to migrate. Exits 0 when both are done.
 */
import { Connection } from '@temporalio/client';
import { ConfigError, loadWorkerConfig } from '../core/config.js';
import { migrateToLatest, openDatabase } from '../core/db/orm.js';
import { createLogger } from '../core/logger.js';
import { temporalConnectionOptions } from '../core/temporal-connection.js';
import { ensureSearchAttributes } from './search-attributes.js';

async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  const logger = createLogger({ level: config.logLevel, service: 'prepare', json: config.env === 'production' ? true : undefined });
  const db = await openDatabase(config.db);
  try {
    await migrateToLatest(db, config.db.driver);
    logger.info('database migrated', { driver: config.db.driver });
  } finally {
    await db.close();
  }
  const connection = await Connection.connect(await temporalConnectionOptions(config.temporal));
  try {
    await ensureSearchAttributes(connection, config.temporal.namespace, logger);
    logger.info('search attributes registered', { namespace: config.temporal.namespace });
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error('prepare failed:', err);
  process.exit(1);
});
