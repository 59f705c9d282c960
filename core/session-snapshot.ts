/**
 * A session as its workflow sees it and the database records it: its states, why it ended, and
 * the snapshot the workflow answers queries with and writes on every change. Shared by the
 * workflow's contract (workflows/messages.ts re-exports it), the session rows and the API.
 */
import type { App, Quality } from './catalog.js';

/**
 * - `provisioning`: the container is being created and started;
 * - `ready`: xpra and the app are up, no client has attached yet;
 * - `active`: a client has attached at least once;
 * - `stopping`: teardown is under way;
 * - `stopped` / `failed`: final.
 */
export const SESSION_STATES = ['provisioning', 'ready', 'active', 'stopping', 'stopped', 'failed'] as const;
export type SessionState = (typeof SESSION_STATES)[number];
export const FINAL_STATES: readonly SessionState[] = ['stopped', 'failed'];
/** The states of a session that holds a quota slot and may hold a container. */
export const LIVE_STATES = ['provisioning', 'ready', 'active', 'stopping'] as const satisfies readonly SessionState[];
export type LiveState = (typeof LIVE_STATES)[number];

/**
 * Why a session ended. `stopped` for the first seven, `failed` for the others; `workflow_lost`:
 * its workflow ended without tearing it down (terminated by an operator, or lost by Temporal),
 * and the reconciler removed what it left; `no_capacity`: no session node had room for it;
 * `node_lost`: the session node it ran on went silent (core/node-registry.ts).
 */
export const END_REASONS = [
  'user_stop',
  'admin_stop',
  'idle',
  'connect_timeout',
  'max_duration',
  'app_exited',
  'cancelled',
  'provision_failed',
  'provision_timeout',
  'workflow_lost',
  'no_capacity',
  'node_lost',
] as const;
export type EndReason = (typeof END_REASONS)[number];

/** The session's container, once provisioned. */
export interface SessionContainer {
  id: string;
  name: string;
  /** Its address on its own Docker network: only the ingress (Traefik on the host) reaches it. */
  ip: string;
}

export interface SessionSnapshot {
  sessionId: string;
  userId: string;
  app: App;
  state: SessionState;
  reason: EndReason | null;
  /** Human-readable detail for `failed` sessions (and for the reason of a stop). */
  message: string | null;
  url: string | null;
  quality: Quality;
  container: SessionContainer | null;
  requestedAt: number;
  /** Epoch ms (workflow clock) when the workflow started: the maximum duration counts from here. */
  startedAt: number;
  readyAt: number | null;
  attachedAt: number | null;
  lastActivityAt: number | null;
  endedAt: number | null;
  /** How the session got its container: a pre-warmed one from the pool, or a cold start. */
  start?: SessionStart;
  /** The session node it was placed on (core/node-registry.ts), once placed. */
  node?: string;
}

export type SessionStart = 'warm' | 'cold';
