/** The API process. */
import { ConfigError, loadApiConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { startTracing } from '../core/tracing.js';
import { startApi } from './server.js';

async function main(): Promise<void> {
  // What this process creates in the data directory (the SQLite database and its journal) is
  // for its own user only; files meant for others get an explicit mode where they are written.
  process.umask(0o077);
  const config = loadApiConfig(process.env);
  // Before anything that makes spans: the provider is global.
  const tracing = startTracing('api', process.env);
  const logger = createLogger({ level: config.logLevel, service: 'api', json: config.env === 'production' ? true : undefined });
  const api = await startApi(config, logger);
  logger.info('api listening', { url: api.url, tracing: tracing.enabled });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info('shutting down', { signal });
    api
      .close()
      .then(() => tracing.shutdown())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error('shutdown failed', { error: String(err) });
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error('api failed to start:', err);
  process.exit(1);
});
