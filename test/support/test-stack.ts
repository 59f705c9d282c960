/**
 * The real stack the integration tests and benchmarks run against: Redis, a Temporal dev server
 * (the real `temporal` CLI), Traefik (the real binary) as the ingress, a SQLite database migrated
 * to the latest schema, and a session worker (real Docker, real activities, its CA and the
 * ingress certificate) in this process. The API's router and ForwardAuth middleware come from
 * each test file's API (test/support/api-under-test.ts), on the port fixed here.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import Docker from 'dockerode';
import { ProfileVolumes } from '../../activities/profile-volumes.js';
import { DockerSessionRuntime } from '../../activities/docker-session-runtime.js';
import { SubnetPool } from '../../activities/subnet-pool.js';
import { loadWorkerConfig } from '../../core/config.js';
import { Session } from '../../core/db/entities.js';
import { migrateToLatest, openDatabase } from '../../core/db/orm.js';
import { createLogger } from '../../core/logger.js';
import { createSessionWorker } from '../../worker/session-worker.js';
import { installTemporalRuntime } from '../../worker/temporal-runtime.js';
import { SEARCH_ATTRIBUTES } from '../../workflows/messages.js';
import { temporalCli, workflowsEntry } from './paths.js';
import { startOutsideWorld, type OutsideWorldInfo } from './outside-world.js';
import { freePort } from './ports.js';
import { startRedis } from './redis-server.js';
import { startTraefik } from './traefik.js';

export interface StackInfo {
  /** The settings the API and the worker share (HACKSTREAM_* variables). */
  env: Record<string, string>;
  temporalAddress: string;
  dataDir: string;
  /** Traefik's HTTPS entrypoint on 127.0.0.1. */
  ingressPort: number;
  /** The HackStream CA certificate (PEM file) clients must trust. */
  caFile: string;
  /** Where pages for sessions are served: beyond the host, as the internet is. */
  outside: OutsideWorldInfo;
  /** The stack's worker's GET /metrics. */
  workerMetricsUrl: string;
  /** The Temporal SDK's own metrics in the stack's worker process. */
  temporalMetricsUrl: string;
}

export interface TestStack extends StackInfo {
  stop(): Promise<void>;
}

/** `overrides`: settings of the API and the worker that differ from the tests' (a benchmark's). */
export async function startTestStack(overrides: Record<string, string> = {}): Promise<TestStack> {
  // HACKSTREAM_TEST_LOG_LEVEL=info shows the test worker's session events (stop requested, session ended, …) when a test needs explaining.
  const logger = createLogger({ level: (process.env['HACKSTREAM_TEST_LOG_LEVEL'] as 'info' | 'debug' | undefined) ?? 'warn', service: 'test-worker', json: false });
  const temporalMetricsAddress = `127.0.0.1:${await freePort()}`;
  installTemporalRuntime(logger, { metricsAddress: temporalMetricsAddress });

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hs-it-'));
  const redis = await startRedis();
  const temporal = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: temporalCli() }, searchAttributes: SEARCH_ATTRIBUTES, ip: '127.0.0.1' },
  });
  const outside = startOutsideWorld();
  const routesDir = path.join(dataDir, 'traefik', 'dynamic');
  const traefik = await startTraefik({ routesDir, workDir: path.join(dataDir, 'traefik') });
  // Test files start their API (one at a time) on this port: the ingress forwards to it.
  const apiPort = await freePort();
  const env: Record<string, string> = {
    HACKSTREAM_ENV: 'test',
    HACKSTREAM_DATA_DIR: dataDir,
    HACKSTREAM_REDIS_URL: redis.url,
    HACKSTREAM_TEMPORAL_ADDRESS: temporal.address,
    HACKSTREAM_TASK_QUEUE: `hs-it-${process.pid}`,
    HACKSTREAM_API_PORT: String(apiPort),
    HACKSTREAM_PUBLIC_HOST: 'localhost',
    HACKSTREAM_PUBLIC_PORT: String(traefik.port),
    HACKSTREAM_SESSION_TOKEN_SECRET: randomBytes(32).toString('hex'),
    // Sessions here start cold; test/e2e/warm-pool.test.ts runs a pool on a queue of its own.
    HACKSTREAM_POOL: 'off',
    // Tests run a reconcile pass when they need one (besides the one at the worker's start): a
    // pass of its own accord would race the tests that look at leftovers on purpose.
    HACKSTREAM_RECONCILE_INTERVAL_SECONDS: '86400',
    HACKSTREAM_WORKER_METRICS_PORT: '0',
    // Every test enrols from 127.0.0.1 (the ingress's address): test/integration/node-enrolment.test.ts checks the limit with one of its own.
    HACKSTREAM_NODE_ENROLMENTS_PER_HOUR: '100000',
    // The worker's session monitor looks every second: attaches, activity and exits show quickly.
    HACKSTREAM_ACTIVITY_POLL_SECONDS: '1',
    // An engine without a user namespace only when the caller says so (a benchmark's baseline).
    ...(process.env['HACKSTREAM_DOCKER_USERNS'] ? { HACKSTREAM_DOCKER_USERNS: process.env['HACKSTREAM_DOCKER_USERNS'] } : {}),
    ...overrides,
  };
  // The worker runs as the worker's Redis user; the API (and tests looking into Redis) as the API's.
  const config = loadWorkerConfig({ ...env, HACKSTREAM_REDIS_URL: redis.workerUrl });
  const db = await openDatabase(config.db);
  await migrateToLatest(db, config.db.driver);
  const worker = await createSessionWorker({ config, logger, db, workflows: { workflowsPath: workflowsEntry } });
  void worker.run();

  return {
    env,
    temporalAddress: temporal.address,
    dataDir,
    ingressPort: traefik.port,
    caFile: config.ingress.caCertFile,
    outside,
    workerMetricsUrl: `http://127.0.0.1:${worker.metricsPort}/metrics`,
    temporalMetricsUrl: `http://${temporalMetricsAddress}/metrics`,
    async stop() {
      await worker.close();
      // A test that failed half-way may leave a session running: remove what this run created.
      const runtime = new DockerSessionRuntime(new Docker({ socketPath: config.dockerSocket }), new SubnetPool(config.sessionSubnets), config.temporal.taskQueue);
      const ours = new Set((await db.em.fork().find(Session, {}, { fields: ['id'] })).map((r) => r.id));
      for (const c of await runtime.listManaged()) if (ours.has(c.sessionId)) await runtime.removeSessionContainers(c.sessionId);
      // ...and the persistent profiles it had mounted (the data directory cannot go while they are).
      const profiles = new ProfileVolumes(config.profilesDir);
      for (const m of await profiles.list()) await profiles.detach(m.sessionId);
      await db.close();
      await traefik.stop();
      await temporal.teardown();
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
