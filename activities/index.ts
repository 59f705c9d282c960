/**
 * The session workflow's side effects. `createActivities(deps)` takes one narrow interface per
 * external system, so the worker passes real implementations and unit tests pass fakes.
 */
import { Context } from '@temporalio/activity';
import { sessionTlsName } from '../core/ingress-names.js';
import { poolLabel } from '../core/pool-keys.js';
import { sessionKeyHex } from '../core/session-keys.js';
import { randomUUID } from 'node:crypto';
import {
  WARM_POLICY,
  poolName,
  type ClientActivity,
  type PoolSpec,
  type SessionContainer,
  type SessionSnapshot,
  type SessionSpec,
  type WarmSlot,
} from '../workflows/messages.js';
import type { CertificateIssuer } from './certificate-authority.js';
import type { ContainerRuntime } from './docker-session-runtime.js';
import { ContainerExitedError, NotReadyInTimeError } from './errors.js';
import type { PoolStore } from '../core/pool-store.js';
import type { SessionCredentials } from './session-credentials.js';
import type { SessionFiles } from './session-files.js';
import type { SessionRoutes } from './traefik-routes.js';
import { hasAppWindow } from './xpra-info.js';

/** Writes the session's projection (the row the API lists and checks ownership against). */
export interface SessionStore {
  record(snapshot: SessionSnapshot): Promise<void>;
  /** Of these session ids, those with a row that is not final (claimed, running sessions). */
  live(sessionIds: string[]): Promise<Set<string>>;
}

/** The audit log, as session workflows write to it (core/audit-log.ts implements it). */
export interface AuditSink {
  record(event: SessionAuditEvent): Promise<void>;
}

export interface SessionAuditEvent {
  /** Chosen by the workflow, so a retried write is recorded once. */
  id: string;
  action: 'session.created' | 'session.stopped' | 'session.expired' | 'session.failed';
  actorId: string | null;
  userId: string;
  targetType: 'session';
  targetId: string;
  sourceIp: string | null;
  details: Record<string, unknown> | null;
}

/** Tells a session's workflow what its client is doing. */
export interface SessionEvents {
  clientAttached(sessionId: string, activity: ClientActivity): Promise<void>;
  activityHeartbeat(sessionId: string, activity: ClientActivity): Promise<void>;
}

export interface ActivityDeps {
  runtime: ContainerRuntime;
  store: SessionStore;
  events: SessionEvents;
  certificates: CertificateIssuer;
  files: SessionFiles;
  routes: SessionRoutes;
  credentials: SessionCredentials;
  audit: AuditSink;
  pools: PoolStore;
  /** Sessions' TLS names are `<id>.sessions.<domain>`. */
  domain: string;
  sessionTokenSecret: string;
}

export interface WatchInput {
  sessionId: string;
  containerId: string;
  pollSeconds: number;
  idleSeconds: number;
  alreadyAttached: boolean;
  lastActivityAt: number | null;
}

export interface WatchResult {
  exitCode: number | null;
}

/** The window class each app's main window has, to know when the app is up. */
const APP_WINDOW_CLASS: Record<SessionSpec['app'], string> = { firefox: 'firefox-esr' };
const READY_POLL_MS = 100;
/** A pool container that is neither ready nor claimed after this long was orphaned. */
const POOL_ORPHAN_AGE_MS = 2 * 60_000;

/** Everything a session (or a warm container) leaves: routes, credentials, containers, network, files. */
function sessionRemover(deps: Pick<ActivityDeps, 'routes' | 'credentials' | 'runtime' | 'files'>) {
  return async (sessionId: string): Promise<void> => {
    await deps.routes.remove(sessionId);
    await deps.credentials.revokeAll(sessionId);
    await deps.runtime.removeSessionContainers(sessionId);
    await deps.files.remove(sessionId);
  };
}

/**
 * Removes the unclaimed containers of these pools (a worker shutting down: warm containers are
 * a cache of its host and do not outlive it). Claimed ones belong to their sessions and stay.
 */
export async function drainPools(deps: ActivityDeps, pools: PoolSpec[]): Promise<number> {
  const remove = sessionRemover(deps);
  let removed = 0;
  for (const pool of pools) {
    const ref = { name: poolName(pool.app, pool.quality), image: pool.image };
    for (const entry of await deps.pools.list(ref)) {
      if (!(await deps.pools.takeBack(ref, entry))) continue; // claimed meanwhile
      await remove(entry.slot.sessionId);
      removed++;
    }
  }
  return removed;
}

export function createActivities(deps: ActivityDeps) {
  const { runtime, store, events, certificates, files, routes, credentials, audit, pools } = deps;
  const tlsName = (sessionId: string) => sessionTlsName(sessionId, deps.domain);

  /** Mints the session's certificate and writes it with its key (and token key, if known). */
  const writeSessionFiles = async (sessionId: string, notBefore: number, lifetimeSeconds: number, withTokenKey: boolean) => {
    const issued = await certificates.issueServerCertificate({ commonName: tlsName(sessionId), dnsNames: [tlsName(sessionId)], notBefore, lifetimeSeconds });
    await files.write(sessionId, {
      certPem: issued.certPem,
      keyPem: issued.keyPem,
      ...(withTokenKey ? { tokenKeyHex: sessionKeyHex(deps.sessionTokenSecret, sessionId) } : {}),
    });
  };

  /** Creates (or finds) the session's container and waits until the app's window exists. */
  const startAndWaitReady = async (spec: SessionSpec, pool?: string): Promise<SessionContainer> => {
    const ctx = Context.current();
    const container = await runtime.ensureSessionContainer(spec, files.dirOf(spec.sessionId), pool);
    const deadline = Date.now() + spec.timeouts.readySeconds * 1000;
    let lastError: string;
    for (;;) {
      ctx.heartbeat({ phase: 'waiting-for-app', containerId: container.id });
      const state = await runtime.inspect(container.id);
      if (!state?.running) {
        const logs = await runtime.logsTail(container.id, 20);
        throw new ContainerExitedError(
          `session container exited (code ${state?.exitCode ?? 'unknown'}) before the app was ready; last output:\n${logs.trim()}`,
        );
      }
      try {
        const status = await runtime.xpraStatus(container.id);
        if (hasAppWindow(status, APP_WINDOW_CLASS[spec.app])) return container;
        lastError = `xpra is up but no ${spec.app} window yet`;
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (Date.now() > deadline) {
        throw new NotReadyInTimeError(`session not ready after ${spec.timeouts.readySeconds}s: ${lastError}`);
      }
      await ctx.sleep(READY_POLL_MS); // throws CancelledFailure when the workflow cancels us
    }
  };

  const removeEverything = sessionRemover(deps);

  return {
    async recordSession(snapshot: SessionSnapshot): Promise<void> {
      await store.record(snapshot);
    },

    async recordAudit(event: SessionAuditEvent): Promise<void> {
      await audit.record(event);
    },

    /**
     * Mints the session's TLS certificate (SAN `<id>.sessions.<domain>`, valid from the
     * session's start for at most its maximum duration, signed by the HackStream CA) and puts it,
     * with the session's token key, where the container will mount them.
     */
    async prepareSessionFiles(input: { spec: SessionSpec; notBefore: number }): Promise<void> {
      const { spec } = input;
      if (await files.currentCertificate(spec.sessionId)) {
        // A retry, or a warm container's files: the certificate stays, the token key is added.
        await files.writeTokenKey(spec.sessionId, sessionKeyHex(deps.sessionTokenSecret, spec.sessionId));
        return;
      }
      await writeSessionFiles(spec.sessionId, input.notBefore, spec.timeouts.maxDurationSeconds, true);
    },

    /** Creates (or finds) the session's container and waits until the app's window exists. */
    provisionSession(spec: SessionSpec): Promise<SessionContainer> {
      return startAndWaitReady(spec);
    },

    /**
     * Makes a claimed warm container the session's: its token key (until now it admitted
     * nobody), the user's limits, and the requested page in the Firefox that is already up.
     */
    async claimWarmContainer(input: { spec: SessionSpec; slot: WarmSlot }): Promise<SessionContainer> {
      const { spec, slot } = input;
      const state = await runtime.inspect(slot.containerId);
      if (!state?.running) throw new ContainerExitedError(`warm container ${slot.containerName} is no longer running`);
      await files.writeTokenKey(spec.sessionId, sessionKeyHex(deps.sessionTokenSecret, spec.sessionId));
      await Promise.all([runtime.updateLimits(slot.containerId, spec.resources), spec.url ? runtime.openUrl(slot.containerId, spec.url) : undefined]);
      return { id: slot.containerId, name: slot.containerName, ip: slot.ip };
    },

    /**
     * Drops ready containers that died or grew too old, and pool containers nobody owns (a
     * claim whose session never started); returns how many ready ones are left.
     */
    async reconcilePool(pool: PoolSpec): Promise<{ ready: number; removed: number }> {
      const name = poolName(pool.app, pool.quality);
      const label = poolLabel(Context.current().info.taskQueue, name);
      const ref = { name, image: pool.image };
      let removed = 0;
      const ready = new Set<string>();
      for (const entry of await pools.list(ref)) {
        const state = await runtime.inspect(entry.slot.containerId);
        const tooOld = Date.now() - entry.slot.readyAt > pool.maxAgeSeconds * 1000;
        if (state?.running && !tooOld) {
          ready.add(entry.slot.sessionId);
          continue;
        }
        // Only what we take back before a session claims it may be removed.
        if (await pools.takeBack(ref, entry)) {
          await removeEverything(entry.slot.sessionId);
          removed++;
        }
      }
      const candidates = (await runtime.listManaged()).filter((c) => c.pool === label && !ready.has(c.sessionId) && Date.now() - c.createdAt > POOL_ORPHAN_AGE_MS);
      const live = await store.live(candidates.map((c) => c.sessionId));
      for (const c of candidates.filter((c) => !live.has(c.sessionId))) {
        await removeEverything(c.sessionId);
        removed++;
      }
      return { ready: ready.size, removed };
    },

    /**
     * Starts one container for the pool: certificate, container with Firefox up on about:blank,
     * routes live, all for the session id it will serve; then offers it in the ready list.
     */
    async warmContainer(pool: PoolSpec): Promise<WarmSlot> {
      const sessionId = randomUUID();
      const name = poolName(pool.app, pool.quality);
      const spec: SessionSpec = {
        sessionId,
        userId: 'pool',
        app: pool.app,
        url: null,
        quality: pool.quality,
        profile: 'ephemeral',
        image: pool.image,
        resources: pool.resources,
        timeouts: { idleSeconds: 0, connectSeconds: 0, maxDurationSeconds: pool.certLifetimeSeconds, readySeconds: pool.readySeconds, activityPollSeconds: 0 },
        policy: WARM_POLICY,
        requestedAt: Date.now(),
      };
      try {
        await writeSessionFiles(sessionId, Date.now() - 60_000, pool.certLifetimeSeconds, false);
        const container = await startAndWaitReady(spec, poolLabel(Context.current().info.taskQueue, name));
        await routes.add({ sessionId, containerIp: container.ip });
        await routes.waitUntilLive(sessionId);
        const slot: WarmSlot = { sessionId, app: pool.app, quality: pool.quality, containerId: container.id, containerName: container.name, ip: container.ip, readyAt: Date.now() };
        await pools.add({ name, image: pool.image }, slot);
        return slot;
      } catch (err) {
        await removeEverything(sessionId);
        throw err;
      }
    },

    /** Routes the session's browser and native paths through the ingress, and waits until live. */
    async addSessionRoutes(input: { sessionId: string; containerIp: string }): Promise<void> {
      await routes.add(input);
      await routes.waitUntilLive(input.sessionId);
    },

    async removeSessionRoutes(input: { sessionId: string }): Promise<void> {
      await routes.remove(input.sessionId);
    },

    /** Connect tokens and resume cookies of the browser path die with the session. */
    async revokeSessionCredentials(input: { sessionId: string }): Promise<{ revoked: number }> {
      return { revoked: await credentials.revokeAll(input.sessionId) };
    },

    /**
     * Runs for the life of the container: reads xpra's view of its clients every poll, signals the
     * workflow on first attach and whenever the user is active (input, or screen updates while a
     * client watches), and returns when the container has ended.
     */
    async watchSession(input: WatchInput): Promise<WatchResult> {
      const ctx = Context.current();
      const pollMs = input.pollSeconds * 1000;
      // Enough heartbeats for the idle timer to be precise, without flooding the history.
      const minSignalGapMs = Math.max(pollMs, Math.min(60_000, (input.idleSeconds * 1000) / 5));
      let attached = input.alreadyAttached;
      let lastSignalled = input.lastActivityAt ?? 0;
      let lastDamage: number | null = null;
      for (;;) {
        ctx.heartbeat();
        const state = await runtime.inspect(input.containerId);
        if (!state?.running) return { exitCode: state?.exitCode ?? null };
        let status;
        try {
          status = await runtime.xpraStatus(input.containerId);
        } catch (err) {
          ctx.log.debug('xpra info failed', { sessionId: input.sessionId, error: (err as Error).message });
        }
        if (status && status.clients > 0) {
          const now = Date.now();
          if (!attached) {
            await events.clientAttached(input.sessionId, { at: now });
            attached = true;
            lastSignalled = now;
          }
          let activeAt = status.minIdleSeconds === null ? 0 : now - status.minIdleSeconds * 1000;
          if (lastDamage !== null && status.damageEvents > lastDamage) activeAt = now;
          lastDamage = status.damageEvents;
          if (activeAt - lastSignalled >= minSignalGapMs) {
            await events.activityHeartbeat(input.sessionId, { at: activeAt });
            lastSignalled = activeAt;
          }
        } else {
          lastDamage = null;
        }
        await ctx.sleep(pollMs);
      }
    },

    /** Removes the session's containers, network and files (certificate, keys): "already gone" is success. */
    async teardownSession(input: { sessionId: string }): Promise<{ removed: number }> {
      const removed = await runtime.removeSessionContainers(input.sessionId);
      await files.remove(input.sessionId);
      return { removed };
    },
  };
}

export type SessionActivities = ReturnType<typeof createActivities>;
