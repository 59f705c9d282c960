/**
 * Starts the API with its real dependencies: database (migrated, first admin ensured), Redis,
 * Temporal; once it listens, it publishes its routes to the ingress (api/ingress-routes.ts).
 * Used by api/main.ts and by the integration tests.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Express } from 'express';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { connectRedis } from '../core/redis-connection.js';
import { temporalConnectionOptions } from '../core/temporal-connection.js';
import type { ApiConfig } from '../core/config.js';
import { ConfigError } from '../core/config.js';
import { migrateToLatest, openDatabase, type Database } from '../core/db/orm.js';
import type { Logger } from '../core/logger.js';
import { createApp } from './app.js';
import { publishApiRoutes } from './ingress-routes.js';
import { UserDirectory } from './users/user-directory.js';

/**
 * Requests wait on Temporal's answers: while it is unreachable they fail within about a second
 * (503 dependency_unavailable) instead of after the SDK's default ten attempts, and the channel
 * tries to reconnect at least every few seconds, so that the API works again soon after Temporal.
 */
const FAIL_FAST_TEMPORAL = {
  interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 4 }))],
  channelArgs: { 'grpc.initial_reconnect_backoff_ms': 250, 'grpc.max_reconnect_backoff_ms': 3000 },
};

/** How long a stopping API lets requests in flight finish (a create waits for its session). */
export const SHUTDOWN_DRAIN_MS = 25_000;

export interface RunningApi {
  server: Server;
  /** The Express application the server runs (its routes are what the contract tests compare). */
  app: Express;
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  db: Database;
  /** Stops taking requests and finishes those in flight (at most SHUTDOWN_DRAIN_MS); idempotent. */
  close(): Promise<void>;
}

export async function startApi(config: ApiConfig, logger: Logger): Promise<RunningApi> {
  const db = await openDatabase(config.db);
  await migrateToLatest(db, config.db.driver);
  const users = new UserDirectory(db);
  const admin = config.admin;
  // With local accounts off the proxy's groups make the admins (HACKSTREAM_AUTH_PROXY_ROLES).
  if (!config.signIn.localAccounts) {
    if (admin.password) logger.warn('HACKSTREAM_ADMIN_PASSWORD is ignored: local accounts are off');
  } else if (admin.password) {
    if (await users.ensureInitialAdmin(admin.username, admin.password)) {
      logger.info('created the first admin account', { username: admin.username });
    }
  } else if (!(await users.hasAccounts())) {
    await db.close();
    throw new ConfigError('invalid configuration:\n  HACKSTREAM_ADMIN_PASSWORD: required to create the first admin account');
  }

  const redis = await connectRedis(config.redisUrl, logger, { failFast: true });
  const connection = await Connection.connect({ ...(await temporalConnectionOptions(config.temporal)), ...FAIL_FAST_TEMPORAL });
  // Starts and updates carry the request's trace into the workflow (a no-op while tracing is off).
  const temporal = new Client({ connection, namespace: config.temporal.namespace, interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } });

  const app = createApp({ config, logger, db, redis, temporal });
  const server = createServer(app);
  server.headersTimeout = 20_000;
  server.requestTimeout = (config.createTimeoutSeconds + 30) * 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  let closing: Promise<void> | undefined;
  const running: RunningApi = {
    server,
    app,
    url: `http://${host}:${port}`,
    db,
    close() {
      closing ??= (async () => {
        // No new connections; idle keep-alive ones close now, requests in flight finish (a
        // create waits for its session) until the drain deadline, then whatever is left is cut.
        await new Promise<void>((resolve) => {
          const cut = setTimeout(() => server.closeAllConnections(), SHUTDOWN_DRAIN_MS);
          server.close(() => {
            clearTimeout(cut);
            resolve();
          });
          server.closeIdleConnections();
        });
        redis.disconnect();
        await connection.close();
        await db.close();
      })();
      return closing;
    },
  };
  // Once listening, so the ingress never routes to an API that is not answering yet.
  await publishApiRoutes(config.ingress, logger).catch(async (err: unknown) => {
    await running.close();
    throw err;
  });
  return running;
}
