/**
 * How workers tell the API that they can run sessions: each worker writes a short-lived record
 * to Redis (worker/docker-health.ts) that the API's readiness check reads (api/readiness.ts).
 * The API never talks to Docker itself.
 */
export const WORKER_HEALTH_PREFIX = 'hackstream:worker-health:';
/** Records expire unless refreshed, so a dead worker stops counting within this. */
export const WORKER_HEALTH_TTL_SECONDS = 20;

export interface WorkerHealth {
  identity: string;
  docker: 'ok' | 'unreachable';
  error?: string;
  at: number;
}
