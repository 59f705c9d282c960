/** Publishes this worker's health (can it reach Docker?) for the API's readiness check. */
import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';
import { WORKER_HEALTH_PREFIX, WORKER_HEALTH_TTL_SECONDS, type WorkerHealth } from '../core/worker-health.js';

const INTERVAL_MS = 5_000;

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
      await redis.set(WORKER_HEALTH_PREFIX + identity, JSON.stringify(health), 'EX', WORKER_HEALTH_TTL_SECONDS);
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
