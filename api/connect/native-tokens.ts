/**
 * One-time tokens for the native (xpra over TLS) path. A token is the pair
 * `username = <expiry, unix s>-<issued, epoch ms>_<random id>` and
 * `password = base64url(Ed25519 signature of NATIVE_TOKEN_CONTEXT + username)`, signed with the
 * session's private key (core/session-token-key.ts). The session's container
 * (images/session/hackstream_auth.py) holds only the public key: it verifies the signature, refuses
 * the token after its expiry, and those issued until an account change (the bound the worker
 * writes), and accepts each id once (it records the id atomically before admitting the
 * connection).
 */
import { randomBytes, sign } from 'node:crypto';
import { sessionSigningKey } from '../../core/session-token-key.js';

/** What is signed before the username; must match images/session/hackstream_auth.py. */
export const NATIVE_TOKEN_CONTEXT = 'hackstream-native-token:';

export interface NativeToken {
  username: string;
  password: string;
  expiresAt: Date;
}

export function mintNativeToken(secret: string, sessionId: string, ttlSeconds: number, now = Date.now()): NativeToken {
  const expiresAt = Math.floor(now / 1000) + ttlSeconds;
  // The issue time to the millisecond: an account change refuses what was issued until then.
  const username = `${expiresAt}-${Math.floor(now)}_${randomBytes(16).toString('base64url')}`;
  const password = sign(null, Buffer.from(`${NATIVE_TOKEN_CONTEXT}${username}`), sessionSigningKey(secret, sessionId)).toString('base64url');
  return { username, password, expiresAt: new Date(expiresAt * 1000) };
}
