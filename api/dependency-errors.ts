/**
 * Which of the API's dependencies an error says is unavailable (Redis, the database, Temporal),
 * so that the error middleware answers `503 dependency_unavailable` with Retry-After instead of a
 * 500: the request was fine, and the same request succeeds once the dependency is back. Each
 * client reconnects by itself, so the API recovers without a restart.
 */
import { ConnectionException, LockWaitTimeoutException } from '@mikro-orm/core';
import { isGrpcServiceError } from '@temporalio/client';

export const DEPENDENCIES = ['redis', 'database', 'temporal'] as const;
export type Dependency = (typeof DEPENDENCIES)[number];

/** ioredis's errors while disconnected, or while a command waits too long. */
const REDIS_OUTAGE = [/^Connection is closed\.?$/, /enableOfflineQueue options is false/, /^Command timed out$/, /Reached the max retries per request limit/];
const REDIS_NAMES = new Set(['MaxRetriesPerRequestError']);

/** gRPC codes that mean Temporal's frontend cannot be reached or answer now. */
const TEMPORAL_OUTAGE = new Set<number>([14 /* UNAVAILABLE */, 4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */]);

/** SQLite's "busy" past its timeout, and drivers' connection failures (PostgreSQL down). */
const DATABASE_OUTAGE = /SQLITE_BUSY|database is locked|ECONNREFUSED|Connection terminated|too many clients/i;

function classifyOne(err: unknown): Dependency | null {
  if (!(err instanceof Error)) return null;
  if (REDIS_NAMES.has(err.name) || REDIS_OUTAGE.some((re) => re.test(err.message))) return 'redis';
  if (isGrpcServiceError(err) && TEMPORAL_OUTAGE.has(err.code)) return 'temporal';
  if (err instanceof ConnectionException || err instanceof LockWaitTimeoutException) return 'database';
  if (DATABASE_OUTAGE.test(err.message) && /sqlite|knex|pg|postgres|database/i.test(`${err.name} ${err.stack ?? ''}`)) return 'database';
  return null;
}

/** The unavailable dependency behind an error (following its causes), or null. */
export function unavailableDependency(err: unknown): Dependency | null {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const found = classifyOne(e);
    if (found) return found;
    e = e instanceof Error ? e.cause : undefined;
  }
  return null;
}
