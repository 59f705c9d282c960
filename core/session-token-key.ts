/**
 * Each session's native-path key, derived from the shared HACKSTREAM_SESSION_TOKEN_SECRET: the
 * worker places it in the session's container (where xpra's `hackstream` auth module checks
 * tokens with it) and the API mints tokens with it, so no token ever travels to the container,
 * and no secret passes through Temporal's history.
 */
import { createHmac } from 'node:crypto';

export function deriveSessionKey(secret: string, sessionId: string): Buffer {
  return createHmac('sha256', secret).update(`hackstream-session-key:${sessionId}`).digest();
}

/** The key as the session's `token.key` file holds it (hex). */
export const sessionKeyHex = (secret: string, sessionId: string): string => deriveSessionKey(secret, sessionId).toString('hex');
