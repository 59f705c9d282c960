/**
 * How a session's spec (everything its workflow needs, fixed at start) is made: for a user's
 * request, from their quota, role policy and the deployment's session defaults; for a warm
 * container, from its pool. Pure functions, so the API and the activities build specs the same
 * way and unit tests can check every field.
 */
import type { AppDefinition } from '../core/app-catalog.js';
import type { SessionDefaults } from '../core/config.js';
import {
  WARM_POLICY,
  type PoolSpec,
  type Profile,
  type SessionPolicy,
  type SessionSpec,
  type WarmSlot,
} from './messages.js';

/** A user's request for a session, as the API accepted it (`requestedAt`: epoch ms). */
export type SessionRequest = Pick<SessionSpec, 'sessionId' | 'userId' | 'app' | 'url' | 'quality' | 'profile' | 'requestedAt'> & {
  requestedFrom: string;
  /** The pre-warmed container the session takes over, if it got one. */
  warm: WarmSlot | null;
  /** Labels the node it is placed on must have. */
  nodeLabels: Record<string, string>;
};

/** The user's effective limits (their quota, or their role's defaults). */
export interface SessionQuota {
  memoryMb: number;
  cpus: number;
  idleTimeoutSeconds: number;
  maxDurationSeconds: number;
}

export type SpecDefaults = Pick<
  SessionDefaults,
  'shmMb' | 'pidsLimit' | 'connectTimeoutSeconds' | 'readyTimeoutSeconds' | 'activityPollSeconds'
>;

/**
 * A warm container was started with WARM_POLICY baked into xpra's command line and mounts
 * nothing of the user's: only sessions that need exactly that can take one. (Egress openings do
 * not matter: the claim applies the session's own.)
 */
export function canTakeWarmContainer(profile: Profile, policy: SessionPolicy, warmProfiles: readonly Profile[]): boolean {
  return warmProfiles.includes(profile) && policy.clipboard === WARM_POLICY.clipboard && policy.fileTransfer === WARM_POLICY.fileTransfer;
}

/** What a session of `app` may do: its role's policy, narrowed by the app's own (the catalog's). */
export function appPolicy<P extends SessionPolicy>(policy: P, app: Pick<AppDefinition, 'policy'>): P {
  return { ...policy, clipboard: policy.clipboard && app.policy.clipboard, fileTransfer: policy.fileTransfer && app.policy.fileTransfer };
}

export function sessionSpec(request: SessionRequest, app: AppDefinition, quota: SessionQuota, policy: SessionPolicy, defaults: SpecDefaults): SessionSpec {
  const { warm, nodeLabels, ...asked } = request;
  return {
    sessionId: asked.sessionId,
    userId: asked.userId,
    app: asked.app,
    url: asked.url,
    quality: asked.quality,
    profile: asked.profile,
    image: app.image,
    launch: { command: app.command, windowClass: app.windowClass, dataDir: app.dataDir },
    resources: { memoryMb: quota.memoryMb, cpus: quota.cpus, shmMb: defaults.shmMb, pidsLimit: defaults.pidsLimit },
    timeouts: {
      idleSeconds: quota.idleTimeoutSeconds,
      connectSeconds: defaults.connectTimeoutSeconds,
      maxDurationSeconds: quota.maxDurationSeconds,
      readySeconds: defaults.readyTimeoutSeconds,
      activityPollSeconds: defaults.activityPollSeconds,
    },
    policy: { clipboard: policy.clipboard, fileTransfer: policy.fileTransfer, egress: [...(policy.egress ?? [])] },
    requestedAt: asked.requestedAt,
    requestedFrom: asked.requestedFrom,
    ...(warm ? { warm } : {}),
    ...(Object.keys(nodeLabels).length > 0 ? { nodeLabels } : {}),
  };
}

/**
 * The spec a warm container is started with: nobody's yet (no user, no page, no idle or connect
 * clock), the pool's resources, and a certificate that covers the longest session it may serve.
 */
export function warmContainerSpec(pool: PoolSpec, sessionId: string, requestedAt: number): SessionSpec {
  return {
    sessionId,
    userId: 'pool',
    app: pool.app,
    url: null,
    quality: pool.quality,
    profile: 'ephemeral',
    image: pool.image,
    ...(pool.launch ? { launch: pool.launch } : {}),
    resources: pool.resources,
    timeouts: { idleSeconds: 0, connectSeconds: 0, maxDurationSeconds: pool.certLifetimeSeconds, readySeconds: pool.readySeconds, activityPollSeconds: 0 },
    policy: WARM_POLICY,
    requestedAt,
  };
}
