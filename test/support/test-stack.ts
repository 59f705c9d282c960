/**
 * The real stack the integration tests and benchmarks run against: Redis, a Temporal dev server
 * (the real `temporal` CLI), a SQLite database migrated to the latest schema, and a session
 * worker (real Docker, real activities) in this process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadWorkerConfig } from '../../core/config.js';
import { migrateToLatest, openDatabase } from '../../core/db/orm.js';
import { createLogger } from '../../core/logger.js';
import { createSessionWorker } from '../../worker/session-worker.js';
import { installTemporalLogging } from '../../worker/temporal-logging.js';
import { SEARCH_ATTRIBUTES } from '../../workflows/messages.js';
import { temporalCli, workflowsEntry } from './paths.js';
import { startRedis } from './redis-server.js';

export interface StackInfo {
  temporalAddress: string;
  redisUrl: string;
  dataDir: string;
  taskQueue: string;
}

export interface TestStack extends StackInfo {
  stop(): Promise<void>;
}

export async function startTestStack(): Promise<TestStack> {
  const logger = createLogger({ level: 'warn', service: 'test-worker', json: false });
  installTemporalLogging(logger);

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hs-it-'));
  const redis = await startRedis();
  const temporal = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: temporalCli() }, searchAttributes: SEARCH_ATTRIBUTES, ip: '127.0.0.1' },
  });
  const taskQueue = `hs-it-${process.pid}`;
  const config = loadWorkerConfig({
    HACKSTREAM_DATA_DIR: dataDir,
    HACKSTREAM_REDIS_URL: redis.url,
    HACKSTREAM_TEMPORAL_ADDRESS: temporal.address,
    HACKSTREAM_TASK_QUEUE: taskQueue,
  });
  const db = await openDatabase(config.db);
  await migrateToLatest(db, config.db.driver);
  const worker = await createSessionWorker({ config, logger, db, workflows: { workflowsPath: workflowsEntry } });
  void worker.run();

  return {
    temporalAddress: temporal.address,
    redisUrl: redis.url,
    dataDir,
    taskQueue,
    async stop() {
      await worker.close();
      await db.close();
      await temporal.teardown();
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
