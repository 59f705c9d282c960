/**
 * Docker labels that tie a container to its session. Every container HackStream creates carries
 * them; lookups (idempotent create, teardown, the orphan reaper) go by label, never by name.
 */

export const LABEL_PREFIX = 'io.hackstream';
export const LABELS = {
  managed: `${LABEL_PREFIX}.managed`,
  session: `${LABEL_PREFIX}.session`,
  user: `${LABEL_PREFIX}.user`,
  app: `${LABEL_PREFIX}.app`,
  /** On pre-warmed containers: the pool they were made for. */
  pool: `${LABEL_PREFIX}.pool`,
  /** The class of its app's main window (the catalog's), which a persistent session's removal closes. */
  windowClass: `${LABEL_PREFIX}.window-class`,
  /**
   * The stack that made it (its workers' task queue): the reconciler removes only its own
   * stack's leftovers, never those of another stack sharing the Docker host.
   */
  stack: `${LABEL_PREFIX}.stack`,
} as const;

export interface SessionLabels {
  sessionId: string;
  userId: string;
  app: string;
  pool?: string;
  stack?: string;
  /** Absent on containers made before the catalog, all Firefox's. */
  windowClass?: string;
}

// Ids are UUIDs or similarly tame tokens; anything else in a label means it was not ours.
const SAFE_VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function serializeLabels(l: SessionLabels): Record<string, string> {
  for (const [k, v] of [['sessionId', l.sessionId], ['userId', l.userId], ['app', l.app], ['pool', l.pool ?? 'none'], ['stack', l.stack ?? 'none'], ['windowClass', l.windowClass ?? 'none']] as const) {
    if (!SAFE_VALUE.test(v)) throw new Error(`label value for ${k} is not a safe identifier: ${JSON.stringify(v)}`);
  }
  return {
    [LABELS.managed]: 'true',
    [LABELS.session]: l.sessionId,
    [LABELS.user]: l.userId,
    [LABELS.app]: l.app,
    ...(l.pool ? { [LABELS.pool]: l.pool } : {}),
    ...(l.stack ? { [LABELS.stack]: l.stack } : {}),
    ...(l.windowClass ? { [LABELS.windowClass]: l.windowClass } : {}),
  };
}

/** Returns the session labels, or null when the container is not (intactly) ours. */
export function parseLabels(labels: Record<string, string> | undefined): SessionLabels | null {
  if (!labels || labels[LABELS.managed] !== 'true') return null;
  const sessionId = labels[LABELS.session];
  const userId = labels[LABELS.user];
  const app = labels[LABELS.app];
  if (!sessionId || !userId || !app) return null;
  if (![sessionId, userId, app].every((v) => SAFE_VALUE.test(v))) return null;
  const pool = labels[LABELS.pool];
  const stack = labels[LABELS.stack];
  const windowClass = labels[LABELS.windowClass];
  if ([pool, stack, windowClass].some((v) => v !== undefined && !SAFE_VALUE.test(v))) return null;
  return { sessionId, userId, app, ...(pool ? { pool } : {}), ...(stack ? { stack } : {}), ...(windowClass ? { windowClass } : {}) };
}

/** Docker's label filter for everything a stack made. */
export const stackLabelFilter = (stack: string): string => `${LABELS.stack}=${stack}`;

export const sessionLabelFilter = (sessionId: string): string => `${LABELS.session}=${sessionId}`;

/**
 * The `io.hackstream.pool` label of a warm container: its task queue and pool, so that workers of
 * another stack on the same Docker host never take its containers for their own orphans.
 */
export const poolLabel = (taskQueue: string, pool: string): string => `${taskQueue}.${pool}`;
