/**
 * Keeps a person attached to their session. xpra 3.1 has no reconnect of its own and every token
 * works once, so after a lost connection the supervisor asks the API whether the session still
 * runs and, while it does, fetches fresh credentials and attaches again with backoff (1 s doubling
 * up to 30 s), without asking anyone. It stops when the session has ended (saying why), when the
 * person detaches, and on an authentication or certificate failure (retrying those would loop).
 */
import { FINAL_STATES, type ConnectDescriptor, type SessionView } from './api-client.js';
import { ClientError } from './client-error.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { UntrustedServerError } from './https-json.js';
import { classifyXpraExit } from './xpra-command.js';
import type { XpraRun } from './xpra-process.js';

export interface SupervisorDeps {
  /** Fresh one-time credentials (POST /v1/sessions/:id/connect). */
  connect(): Promise<ConnectDescriptor>;
  session(): Promise<SessionView>;
  /** Runs xpra attached to the descriptor until it exits. */
  attach(native: ConnectDescriptor['native']): Promise<XpraRun>;
  sleep(ms: number): Promise<void>;
  notice(message: string): void;
  now(): number;
  /** True once the person asked to stop (Ctrl-C). */
  interrupted(): boolean;
}

export interface AttachOutcome {
  exitCode: ExitCode;
  message: string;
  /** How many times xpra was started. */
  attaches: number;
}

export const backoffMs = (failures: number): number => Math.min(30_000, 1000 * 2 ** Math.min(failures, 5));

/** An attach that lasted this long was a working connection: the next loss starts backoff anew. */
const STABLE_MS = 30_000;
/** How long a `stopping` session is watched for its final state. */
const STOPPING_WAIT_MS = 30_000;

const REASONS: Record<string, string> = {
  user_stop: 'it was stopped',
  idle: 'it was idle for too long',
  connect_timeout: 'nobody attached in time',
  max_duration: 'it reached its maximum duration',
  app_exited: 'the application was closed',
  cancelled: 'it was stopped',
  provision_failed: 'it failed to start',
  provision_timeout: 'it took too long to start',
};

export function endedMessage(s: SessionView): string {
  const why = (s.reason && REASONS[s.reason]) ?? s.reason ?? 'unknown reason';
  return `session ${s.session_id} has ended: ${why}${s.message ? ` (${s.message})` : ''}`;
}

const transientApiError = (err: unknown) => err instanceof ClientError && err.exitCode === EXIT.unreachable && !(err instanceof UntrustedServerError);

export async function superviseAttach(sessionId: string, deps: SupervisorDeps): Promise<AttachOutcome> {
  let failures = 0;
  let attaches = 0;
  const cancelled = (): AttachOutcome => ({ exitCode: EXIT.cancelled, message: `detached; session ${sessionId} is still running (hackstream attach ${sessionId}, hackstream stop ${sessionId})`, attaches });

  /** The session's state, waiting out `stopping`; undefined when the API cannot be reached. */
  const settledSession = async (): Promise<SessionView | undefined> => {
    const deadline = deps.now() + STOPPING_WAIT_MS;
    for (;;) {
      let s: SessionView;
      try {
        s = await deps.session();
      } catch (err) {
        if (transientApiError(err)) return undefined;
        if (err instanceof ClientError && err.code === 'not_found') return { session_id: sessionId, state: 'stopped', reason: null, message: 'the server no longer knows it' } as SessionView;
        throw err;
      }
      if (s.state !== 'stopping' || deps.now() > deadline) return s;
      await deps.sleep(1000);
    }
  };
  const ended = (s: SessionView): AttachOutcome => ({
    exitCode: s.state === 'failed' ? EXIT.sessionFailed : EXIT.ok,
    message: endedMessage(s),
    attaches,
  });

  for (;;) {
    if (deps.interrupted()) return cancelled();
    let descriptor: ConnectDescriptor;
    try {
      descriptor = await deps.connect();
    } catch (err) {
      if (transientApiError(err)) {
        const delay = backoffMs(failures++);
        deps.notice(`${(err as Error).message}; trying again in ${delay / 1000} s`);
        await deps.sleep(delay);
        continue;
      }
      if (err instanceof ClientError && (err.code === 'session_not_running' || err.code === 'not_found')) {
        const s = await settledSession();
        if (s && FINAL_STATES.has(s.state)) return ended(s);
        throw new ClientError(`session ${sessionId} is not running: ${err.message}`, EXIT.refused, err.code);
      }
      throw err;
    }

    const started = deps.now();
    attaches++;
    const run = await deps.attach(descriptor.native);
    if (deps.interrupted()) return cancelled();
    const kind = classifyXpraExit(run.code);
    if (kind === 'auth') {
      throw new ClientError(`the session refused the connection (xpra exit ${run.code}: authentication failed); not retrying\n${run.tail}`, EXIT.attachFailed);
    }
    if (kind === 'certificate') {
      throw new ClientError(`the session's certificate could not be verified (xpra exit ${run.code}); not retrying\n${run.tail}`, EXIT.attachFailed);
    }
    if (kind === 'error') throw new ClientError(`the xpra client failed (exit ${run.code})\n${run.tail}`, EXIT.attachFailed);
    if (deps.now() - started >= STABLE_MS) failures = 0;

    const s = await settledSession();
    if (s && (FINAL_STATES.has(s.state) || s.state === 'stopping')) return ended(s);
    if (kind === 'detached') {
      return { exitCode: EXIT.ok, message: `detached; session ${sessionId} is still running (hackstream attach ${sessionId}, hackstream stop ${sessionId})`, attaches };
    }
    const delay = backoffMs(failures++);
    deps.notice(`connection lost (xpra exit ${run.code}); reconnecting in ${delay / 1000} s`);
    await deps.sleep(delay);
  }
}
