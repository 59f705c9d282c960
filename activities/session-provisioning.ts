/**
 * What a session's container needs before anyone can use it, shared by cold starts and warm-pool
 * containers: the container running with the app's window up (`containerStarter`, all a session
 * node needs), and for sessions that began before keys were made on their node, its certificate
 * and keys minted on this host (`sessionProvisioning`).
 */
import { Context } from '@temporalio/activity';
import { launchOf } from '../core/catalog.js';
import { sessionTlsName } from '../core/ingress-names.js';
import { sessionPublicKeyHex } from '../core/session-token-key.js';
import type { SessionContainer, SessionSpec } from '../workflows/messages.js';
import type { CertificateIssuer } from '../core/certificate-authority.js';
import type { ContainerRuntime } from './docker-session-runtime.js';
import { ContainerExitedError, InvalidSessionSpecError, NotReadyInTimeError } from './errors.js';
import type { ProfileVolumes } from './profile-volumes.js';
import type { SessionFiles } from './session-files.js';
import type { SessionFirewall } from './session-firewall.js';
import { START_PRIORITY, type StartAdmission } from './start-admission.js';

/** What starting a session's container on this host needs (a session node's own). */
export interface ContainerStartDeps {
  runtime: Pick<ContainerRuntime, 'ensureSessionContainer' | 'inspect' | 'logsTail' | 'appWindow' | 'updateLimits'>;
  /** The session's egress openings, in place before its container starts. */
  firewall: Pick<SessionFirewall, 'open'>;
  files: Pick<SessionFiles, 'dirOf'>;
  /** Users' persistent profiles on this host. */
  profiles: Pick<ProfileVolumes, 'attach'>;
  /** How many containers start at once on this worker. */
  admission: StartAdmission;
}

/** The same, and a session's certificate minted here (sessions that began before keys were made on their node). */
export type ProvisioningDeps = ContainerStartDeps & {
  runtime: ContainerRuntime;
  certificates: CertificateIssuer;
  files: SessionFiles;
  /** Sessions' TLS names are `<id>.sessions.<domain>`. */
  domain: string;
  sessionTokenSecret: string;
};

/** Each wait for the window is this long at most: between two, the activity heartbeats and looks at the container. */
const APP_WINDOW_WAIT_SECONDS = 2;
/** After a wait that could not run (the container just starting), the next one is tried after this. */
const RETRY_MS = 100;

export function sessionProvisioning(deps: ProvisioningDeps) {
  const { certificates, files } = deps;

  /** Puts the session's token public key beside its certificate: from now on its owner's tokens work. */
  const writeTokenPublicKey = (sessionId: string) => files.writeTokenPublicKey(sessionId, sessionPublicKeyHex(deps.sessionTokenSecret, sessionId));

  /** Mints the session's certificate and writes it with its key (and token public key, if wanted). */
  const writeCertificate = async (sessionId: string, notBefore: number, lifetimeSeconds: number, withTokenKey: boolean) => {
    const tlsName = sessionTlsName(sessionId, deps.domain);
    const issued = await certificates.issueServerCertificate({ commonName: tlsName, dnsNames: [tlsName], notBefore, lifetimeSeconds });
    await files.write(sessionId, {
      certPem: issued.certPem,
      keyPem: issued.keyPem,
      ...(withTokenKey ? { tokenPublicKeyHex: sessionPublicKeyHex(deps.sessionTokenSecret, sessionId) } : {}),
    });
  };

  return { writeTokenPublicKey, writeCertificate, startAndWaitReady: containerStarter(deps) };
}

export function containerStarter(deps: ContainerStartDeps) {
  const { runtime, files } = deps;

  /**
   * Creates (or finds) the session's container and waits until the app's window exists, once
   * this worker's start admission lets it. The calling activity heartbeats while it waits its
   * turn (keep-alive.ts).
   */
  const startAndWaitReady = async (spec: SessionSpec, pool?: string): Promise<SessionContainer> => {
    const ctx = Context.current();
    await deps.firewall.open(spec.sessionId, spec.policy.egress ?? []);
    const priority = pool === undefined ? START_PRIORITY.user : START_PRIORITY.warm;
    return deps.admission.run(() => startAdmitted(ctx, spec, pool), { priority, signal: ctx.cancellationSignal });
  };

  /** `ctx` is passed, not looked up: the queue runs this in the context of whichever start freed the slot. */
  const startAdmitted = async (ctx: Context, spec: SessionSpec, pool: string | undefined): Promise<SessionContainer> => {
    const container = await runtime.ensureSessionContainer(spec, files.dirOf(spec.sessionId), pool, await profileDir(spec));
    const deadline = Date.now() + spec.timeouts.readySeconds * 1000;
    for (;;) {
      ctx.heartbeat({ phase: 'waiting-for-app', containerId: container.id });
      const seconds = Math.max(0.1, Math.min(APP_WINDOW_WAIT_SECONDS, (deadline - Date.now()) / 1000));
      const notYet = await whyNotReady(spec, container.id, seconds);
      if (notYet === null) {
        // What the start went without (docker-session-runtime.ts): a session's CPU quota, a warm
        // container's CPU priority. Set here, a claim by a user with the pool's limits has nothing to change.
        await runtime.updateLimits(container.id, spec.resources);
        return container;
      }
      if (Date.now() > deadline) throw new NotReadyInTimeError(`session not ready after ${spec.timeouts.readySeconds}s: ${notYet.why}`);
      // Throws CancelledFailure when the workflow cancels us (a wait that ran needs no pause).
      await ctx.sleep(notYet.retryAfterMs ?? 1);
    }
  };

  /** Where a persistent session's profile is mounted on this host (mounted now if it was not). */
  const profileDir = async (spec: SessionSpec): Promise<string | undefined> => {
    if (spec.profile !== 'persist') return undefined;
    if (spec.profileCapMb === undefined) throw new InvalidSessionSpecError(`persistent session ${spec.sessionId} came without its profile's size limit`);
    return (await deps.profiles.attach(spec.sessionId, { userId: spec.userId, app: spec.app }, spec.profileCapMb)).dir;
  };

  /**
   * Null once the app's window exists (waiting up to `seconds` for it); what is still missing
   * otherwise. Throws if the container died.
   */
  const whyNotReady = async (spec: SessionSpec, containerId: string, seconds: number): Promise<{ why: string; retryAfterMs?: number } | null> => {
    const state = await runtime.inspect(containerId);
    if (!state?.running) {
      const logs = await runtime.logsTail(containerId, 20);
      throw new ContainerExitedError(`session container exited (code ${state?.exitCode ?? 'unknown'}) before the app was ready; last output:\n${logs.trim()}`);
    }
    try {
      const found = await runtime.appWindow(containerId, launchOf(spec).windowClass, seconds);
      if (found === 'shown') return null;
      return { why: found === 'no-display' ? 'the X display is not up yet' : `no ${spec.app} window yet` };
    } catch (err) {
      return { why: (err as Error).message, retryAfterMs: RETRY_MS };
    }
  };

  return startAndWaitReady;
}
