/** The Redis connection both processes open: connected before use, its errors logged, not fatal. */
import { Redis } from 'ioredis';
import type { Logger } from './logger.js';

const COMMAND_TIMEOUT_MS = 5_000;

/**
 * `failFast`: commands fail at once while disconnected instead of queueing (the API answers
 * requests and must not hang them on an outage; the worker's activities are retried anyway).
 */
export async function connectRedis(url: string, logger: Logger, opts: { failFast: boolean }): Promise<Redis> {
  // A Redis that accepts connections but does not answer (stopped, overloaded) fails a command
  // after COMMAND_TIMEOUT_MS instead of holding a request or an activity forever.
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: !opts.failFast, commandTimeout: COMMAND_TIMEOUT_MS });
  // ioredis reconnects by itself; without a listener its errors would crash the process.
  redis.on('error', (err: Error) => logger.warn('redis connection error', { error: err.message }));
  await redis.connect();
  return redis;
}
