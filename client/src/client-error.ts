/**
 * The client's one error type: a message for a person (what happened and what to do next) and the
 * exit code it maps to. Anything else that reaches the top is a bug and is reported as exit 1
 * without a stack trace (HACKSTREAM_DEBUG=1 shows it).
 */
import { EXIT, type ExitCode } from './exit-codes.js';

export class ClientError extends Error {
  override readonly name = 'ClientError';

  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failure,
    /** The server's error code, when the server refused. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export const notLoggedIn = (detail = 'not logged in'): ClientError =>
  new ClientError(`${detail}: run \`hackstream login\``, EXIT.notLoggedIn);

export const usageError = (message: string): ClientError => new ClientError(message, EXIT.usage);
