/**
 * The session workflow's side effects. `createActivities(deps)` takes one narrow interface per
 * external system, so the worker passes real implementations and unit tests pass fakes.
 */
import { Context } from '@temporalio/activity';
import { deriveSessionKey } from '../core/session-keys.js';
import type { ClientActivity, SessionContainer, SessionSnapshot, SessionSpec } from '../workflows/messages.js';
import type { CertificateIssuer } from './certificate-authority.js';
import type { ContainerRuntime } from './docker-session-runtime.js';
import { ContainerExitedError, NotReadyInTimeError } from './errors.js';
import type { SessionCredentials } from './session-credentials.js';
import type { SessionFiles } from './session-files.js';
import type { SessionRoutes } from './traefik-routes.js';
import { hasAppWindow } from './xpra-info.js';

/** Writes the session's projection (the row the API lists and checks ownership against). */
export interface SessionStore {
  record(snapshot: SessionSnapshot): Promise<void>;
}

/** The audit log, as session workflows write to it (api/audit/audit-log.ts implements it). */
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
const READY_POLL_MS = 250;

export function createActivities(deps: ActivityDeps) {
  const { runtime, store, events, certificates, files, routes, credentials, audit } = deps;

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
      if (await files.currentCertificate(spec.sessionId)) return; // a retry: already in place
      const name = `${spec.sessionId}.sessions.${deps.domain}`;
      const issued = await certificates.issueServerCertificate({
        commonName: name,
        dnsNames: [name],
        notBefore: input.notBefore,
        lifetimeSeconds: spec.timeouts.maxDurationSeconds,
      });
      await files.write(spec.sessionId, {
        certPem: issued.certPem,
        keyPem: issued.keyPem,
        tokenKeyHex: deriveSessionKey(deps.sessionTokenSecret, spec.sessionId).toString('hex'),
      });
    },

    /** Creates (or finds) the session's container and waits until the app's window exists. */
    async provisionSession(spec: SessionSpec): Promise<SessionContainer> {
      const ctx = Context.current();
      const container = await runtime.ensureSessionContainer(spec, files.dirOf(spec.sessionId));
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
