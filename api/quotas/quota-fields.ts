/**
 * The one mapping between a quota's names in the API (snake_case) and in code and the database
 * (camelCase): the caller's quota, an account's overrides in responses, and an admin's overrides
 * in requests all go through it.
 */
import type { QuotaOverrides } from '../../core/db/entities.js';

const FIELDS = {
  max_sessions: 'maxSessions',
  memory_mb: 'memoryMb',
  cpus: 'cpus',
  idle_timeout_seconds: 'idleTimeoutSeconds',
  max_duration_seconds: 'maxDurationSeconds',
  storage_mb: 'storageMb',
} as const satisfies Record<string, keyof QuotaOverrides>;

type ApiName = keyof typeof FIELDS;
export type QuotaJson = Partial<Record<ApiName, number>>;

/** Stored names → API names; fields that are not set are left out. */
export function quotaJson(q: QuotaOverrides): QuotaJson {
  const out: Partial<Record<ApiName, number>> = {};
  for (const [api, stored] of Object.entries(FIELDS) as [ApiName, keyof QuotaOverrides][]) {
    const value = q[stored];
    if (value !== undefined && value !== null) out[api] = value;
  }
  return out;
}

/** API names → stored names (an admin's overrides); null and undefined pass through. */
export function quotaFromJson(q: QuotaJson | null | undefined): QuotaOverrides | null | undefined {
  if (q === undefined || q === null) return q;
  const out: QuotaOverrides = {};
  for (const [api, stored] of Object.entries(FIELDS) as [ApiName, keyof QuotaOverrides][]) {
    if (q[api] !== undefined) out[stored] = q[api];
  }
  return out;
}
