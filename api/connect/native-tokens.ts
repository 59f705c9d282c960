/**
 * One-time tokens for the native (xpra over TLS) path. A token is the pair
 * `username = <expiry>-<random id>` and `password = base64url(HMAC-SHA256(session key, username))`.
 * The session's container (images/session/hackstream_auth.py) recomputes the password from the
 * username with the same key, refuses it after the expiry, and accepts each id once: it records
 * the id atomically before admitting the connection.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { deriveSessionKey } from '../../core/session-token-key.js';

export interface NativeToken {
  username: string;
  password: string;
  expiresAt: Date;
}

export function mintNativeToken(secret: string, sessionId: string, ttlSeconds: number, now = Date.now()): NativeToken {
  const expiresAt = Math.floor(now / 1000) + ttlSeconds;
  const username = `${expiresAt}-${randomBytes(16).toString('base64url')}`;
  const password = createHmac('sha256', deriveSessionKey(secret, sessionId)).update(username).digest('base64url');
  return { username, password, expiresAt: new Date(expiresAt * 1000) };
}
