/**
 * The API never talks to Docker; to report readiness it reads what workers publish here: each
 * worker pings its Docker engine periodically and writes the result to Redis with a short TTL.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';

export const WORKER_HEALTH_PREFIX = 'hackstream:worker-health:';
const INTERVAL_MS = 5_000;
const TTL_SECONDS = 20;

export interface WorkerHealth {
  identity: string;
  docker: 'ok' | 'unreachable';
  error?: string;
  at: number;
}

export function publishWorkerHealth(opts: {
  redis: Redis;
  identity: string;
  pingDocker: () => Promise<void>;
  logger: Logger;
}): () => void {
  const { redis, identity, pingDocker, logger } = opts;
  let stopped = false;
  const beat = async () => {
    let health: WorkerHealth;
    try {
      await pingDocker();
      health = { identity, docker: 'ok', at: Date.now() };
    } catch (err) {
      health = { identity, docker: 'unreachable', error: (err as Error).message, at: Date.now() };
    }
    try {
      await redis.set(WORKER_HEALTH_PREFIX + identity, JSON.stringify(health), 'EX', TTL_SECONDS);
    } catch (err) {
      if (!stopped) logger.warn('could not publish worker health', { error: (err as Error).message });
    }
  };
  void beat();
  const timer = setInterval(() => void beat(), INTERVAL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
