/**
 * The session workflow's contract: its input, the signals, queries and updates it answers, the
 * search attributes it maintains and the types they carry. `api/` and `worker/` import from here;
 * nothing here may have side effects (it is bundled into the workflow sandbox).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

import type { App, AppLaunch, Profile, Quality } from '../core/catalog.js';
import type { WarmSlot } from '../core/pool-store.js';
import type { EndReason, SessionContainer, SessionSnapshot, SessionStart, SessionState } from '../core/session-snapshot.js';

export type { App, EndReason, Profile, Quality, SessionContainer, SessionSnapshot, SessionStart, SessionState, WarmSlot };
export { END_REASONS, FINAL_STATES, SESSION_STATES } from '../core/session-snapshot.js';

/** Error types (activity error class names) that retrying cannot fix. */
export const PERMANENT_ERROR_TYPES = ['ImageMissingError', 'InvalidSessionSpecError'] as const;

export interface SessionResources {
  memoryMb: number;
  cpus: number;
  shmMb: number;
  pidsLimit: number;
}

export interface SessionTimeouts {
  /** Without user activity for this long, the session ends with reason `idle`. */
  idleSeconds: number;
  /** Without any client attaching for this long after ready, it ends with `connect_timeout`. */
  connectSeconds: number;
  /** Hard limit from the start of the session: `max_duration`. */
  maxDurationSeconds: number;
  /** Provisioning (container start until the app window exists) must finish within this. */
  readySeconds: number;
  /** How often the worker reads the session's activity from xpra. */
  activityPollSeconds: number;
}

/** What the user's role allows in the session (see HACKSTREAM_ROLE_POLICIES). */
export interface SessionPolicy {
  clipboard: boolean;
  fileTransfer: boolean;
  /**
   * Destinations beyond the public internet the session may reach (core/egress-destinations.ts),
   * opened in the host firewall before its container starts or when it claims a warm one.
   * Absent in sessions started before egress openings existed: none.
   */
  egress?: string[];
}

/** The policy warm containers start with; a session with another policy starts cold. */
export const WARM_POLICY: SessionPolicy = { clipboard: true, fileTransfer: false };

/** Everything the workflow needs to run one session; fixed at start. */
export interface SessionSpec {
  sessionId: string;
  userId: string;
  app: App;
  url: string | null;
  quality: Quality;
  profile: Profile;
  image: string;
  /** What its node needs of its app (the catalog's); absent in specs made before: Firefox's. */
  launch?: AppLaunch;
  resources: SessionResources;
  timeouts: SessionTimeouts;
  policy: SessionPolicy;
  /** Epoch ms when the API accepted the request. */
  requestedAt: number;
  /** The client's address, for the audit record of the session's creation. */
  requestedFrom?: string;
  /** Set when the session takes over a pre-warmed container. */
  warm?: WarmSlot;
  /** Labels the node it is placed on must have (its role's and its request's); absent: any node. */
  nodeLabels?: Record<string, string>;
  /**
   * A persistent profile's size limit (MB): the user's storage quota less what their other
   * apps' profiles use. Set exactly when `profile` is `persist`.
   */
  profileCapMb?: number;
}

/** One pool of pre-warmed containers, as the pool-warming schedule keeps it. */
export interface PoolSpec {
  app: App;
  quality: Quality;
  size: number;
  image: string;
  /** What its node needs of its app (the catalog's); absent in specs made before: Firefox's. */
  launch?: AppLaunch;
  resources: SessionResources;
  readySeconds: number;
  /** Containers older than this are replaced. */
  maxAgeSeconds: number;
  /** Lifetime of a warm container's certificate: the longest session it may serve. */
  certLifetimeSeconds: number;
}

export interface PoolWarmerInput {
  pools: PoolSpec[];
}

/**
 * The Temporal Schedule that runs PoolWarmerWorkflow for the workers of one task queue (one
 * Docker host: a pool's containers live where its worker runs); created idempotently by them.
 */
export const poolScheduleId = (taskQueue: string): string => `hackstream-pool-warmer-${taskQueue}`;

/** The reconciler's schedule, one per stack (task queue), and what a pass is given and reports. */
export const reconcileScheduleId = (taskQueue: string): string => `hackstream-reconciler-${taskQueue}`;

/** What the reconciler removes, each counted in hackstream_reconciled_total{kind} (rows: ended). */
export const RECONCILED_KINDS = ['container', 'network', 'route', 'files', 'credentials', 'row', 'reservation', 'profile', 'leftover'] as const;
export type ReconciledKind = (typeof RECONCILED_KINDS)[number];

export interface ReconcileInput {
  /** How long something with no workflow at all is left alone. */
  graceSeconds: number;
}

export interface ReconcileReport {
  /** Sessions with something on this host or a live row. */
  sessions: number;
  /** Sessions whose leftovers were removed or whose row was ended. */
  reconciled: number;
  /** Per kind, how many were removed (rows: ended). */
  removed: Partial<Record<ReconciledKind, number>>;
}
export const poolName = (app: string, quality: string): string => `${app}-${quality}`;

/**
 * The task queue of one session node: its worker polls it for the activities that act on its
 * engine and host (a session's files, container, warm claim and removal), while the control task
 * queue keeps the workflows and everything else.
 */
export const nodeTaskQueue = (controlQueue: string, nodeId: string): string => `${controlQueue}-node-${nodeId}`;


/** State carried across continue-as-new so a long session keeps its clocks. */
export interface CarriedState {
  snapshot: SessionSnapshot;
  stopRequested: boolean;
  stopReason: StopRequest['reason'];
  stopBy: string | null;
}

export interface SessionWorkflowInput {
  spec: SessionSpec;
  carried?: CarriedState;
}

export interface StopRequest {
  /**
   * `admin_stop`: an admin disabled the owner; `provision_timeout`: the API gave up waiting for
   * the session to become ready; `node_lost`: its session node stopped sending heartbeats.
   */
  reason: 'user_stop' | 'admin_stop' | 'provision_timeout' | 'node_lost';
  /** The user who asked, for the record; null when the control plane itself did (a lost node). */
  by: string | null;
}

export interface ClientActivity {
  /** Epoch ms of the observation's user activity (input or screen updates). */
  at: number;
}

/** The app's container has ended (it exited, or it is gone). */
export interface AppExit {
  /** The container's exit code; null when the container is gone without one. */
  exitCode: number | null;
}

/**
 * What the worker's session monitor (worker/session-monitor.ts) needs of a live session: whether
 * this session is its to watch (sessions that began before the monitor run their own watcher
 * activity), the idle timeout its activity reports must beat, and the clocks already known.
 */
export interface SessionWatch {
  monitored: boolean;
  idleSeconds: number;
  attachedAt: number | null;
  lastActivityAt: number | null;
}

export const sessionWorkflowId = (sessionId: string): string => `session-${sessionId}`;

/**
 * An account change that ends the account's live access (password reset or change, role change,
 * disable), as the API is about to commit it: the account's token version after the change.
 */
export interface AccountAccessChange {
  userId: string;
  tokenVersion: number;
  /** The change disables the account: its sessions stop. */
  stopSessions: boolean;
  /** Who made the change, for the sessions' records. */
  by: string;
}

export interface AccountAccessResult {
  /** False when the change never reached the database (the request that began it failed). */
  applied: boolean;
  /** The account's sessions that were live when the change was applied. */
  sessions: number;
  /** How many of them were asked to stop (a disable). */
  stopped: number;
}

/**
 * One per request: two requests that race for the same token version each start their own (the
 * database lets one of them commit); a retried start of one request reuses its id.
 */
export const accountAccessWorkflowId = (userId: string, tokenVersion: number, requestId: string): string => `account-access-${userId}-${tokenVersion}-${requestId}`;

/** Ask the session to end; idempotent. */
export const stopSignal = defineSignal<[StopRequest]>('stop');
/** A client attached (first attach moves `ready` → `active`). */
export const clientAttachedSignal = defineSignal<[ClientActivity]>('clientAttached');
/** The user did something (input or screen updates): resets the idle timer. */
export const activityHeartbeatSignal = defineSignal<[ClientActivity]>('activityHeartbeat');

/** The session's container ended (sent by the worker's session monitor). */
export const appExitedSignal = defineSignal<[AppExit]>('appExited');

export const sessionSnapshotQuery = defineQuery<SessionSnapshot>('sessionSnapshot');
export const sessionWatchQuery = defineQuery<SessionWatch>('sessionWatch');

/**
 * Completes as soon as provisioning has finished (successfully or not) and returns the snapshot:
 * the API sends it with update-with-start so one call starts the session and waits for it.
 */
export const awaitReadyUpdate = defineUpdate<SessionSnapshot>('awaitReady');

/** Search attributes, registered on the namespace so operators can filter in the Temporal UI. */
export const userIdSearchAttribute = defineSearchAttributeKey('userId', SearchAttributeType.KEYWORD);
export const appSearchAttribute = defineSearchAttributeKey('app', SearchAttributeType.KEYWORD);
export const sessionStateSearchAttribute = defineSearchAttributeKey('sessionState', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTES = [userIdSearchAttribute, appSearchAttribute, sessionStateSearchAttribute];

/** An admin's deletion of a user's persistent profile (workflows/profile-deletion-workflow.ts). */
export interface ProfileDeletionInput {
  userId: string;
  app: App;
  /** The node that holds the profile's volume. */
  node: string;
}

/** Whether there was a volume on the node (a profile whose node never made one has none). */
export interface ProfileDeletionResult {
  volumeDeleted: boolean;
}

export const profileDeletionWorkflowId = (userId: string, app: string): string => `profile-deletion-${userId}-${app}`;
