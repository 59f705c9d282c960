/**
 * Readiness: everything a session needs must answer. The API does not talk to Docker itself;
 * Docker's state comes from the health that workers publish to Redis (core/worker-health.ts).
 */
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Database } from '../core/db/orm.js';
import { WORKER_HEALTH_PREFIX, type WorkerHealth } from '../core/worker-health.js';

export type CheckResult = { status: 'ok' } | { status: 'error'; error: string };

export interface ReadinessDeps {
  db: Database;
  redis: Redis;
  temporal: Client;
  namespace: string;
}

const CHECK_TIMEOUT_MS = 3_000;

async function check(fn: () => Promise<void>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { status: 'ok' };
  } catch (err) {
    return { status: 'error', error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** What each live worker last reported (records expire, so a dead worker drops out). */
export async function workerReports(redis: Redis): Promise<WorkerHealth[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${WORKER_HEALTH_PREFIX}*`, 'COUNT', 100);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  return (await redis.mget(keys)).flatMap((v) => (v ? [JSON.parse(v) as WorkerHealth] : []));
}

async function dockerViaWorkers(redis: Redis): Promise<void> {
  const reports = await workerReports(redis);
  if (reports.length === 0) throw new Error('no worker has reported in (is the worker running?)');
  if (!reports.some((r) => r.docker === 'ok')) {
    throw new Error(`no worker reaches Docker: ${reports.map((r) => `${r.identity}: ${r.error ?? r.docker}`).join('; ')}`);
  }
}

export async function checkReadiness(deps: ReadinessDeps): Promise<{ ready: boolean; checks: Record<string, CheckResult> }> {
  const [database, redis, temporal, docker] = await Promise.all([
    check(async () => {
      await deps.db.em.getConnection().execute('select 1');
    }),
    check(async () => {
      await deps.redis.ping();
    }),
    check(async () => {
      await deps.temporal.workflowService.describeNamespace({ namespace: deps.namespace });
    }),
    check(() => dockerViaWorkers(deps.redis)),
  ]);
  const checks = { database, redis, temporal, docker };
  return { ready: Object.values(checks).every((c) => c.status === 'ok'), checks };
}
