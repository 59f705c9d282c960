/**
 * Redis layout of the pools of pre-warmed containers: one list of ready slots (JSON) per pool,
 * filled by the pool-warming workflow's activities and popped, atomically, by the API when it
 * creates a session. A popped slot is the claim: it can never be handed out twice.
 *
 * A pool lives on the Docker host of one task queue, and only serves sessions of the same
 * image: both are part of the key.
 */
import { createHash } from 'node:crypto';

export const poolReadyKey = (taskQueue: string, pool: string, image: string): string =>
  `hackstream:pool:${taskQueue}:${pool}:${createHash('sha256').update(image).digest('hex').slice(0, 16)}:ready`;

/**
 * The `io.hackstream.pool` label of a warm container: its task queue and pool, so that workers of
 * another stack on the same Docker host never take its containers for their own orphans.
 */
export const poolLabel = (taskQueue: string, pool: string): string => `${taskQueue}.${pool}`;
