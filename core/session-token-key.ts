/**
 * Each session's native-path signing key pair (Ed25519), derived from the shared
 * HACKSTREAM_SESSION_TOKEN_SECRET and the session id: the API signs one-time tokens with the
 * private key (api/connect/native-tokens.ts); the worker places only the public key in the
 * session's container, where xpra's `hackstream` auth module verifies tokens with it. So nothing
 * the session's user can read in the container mints a token, no token ever travels to the
 * container ahead of its use, and no secret passes through Temporal's history.
 */
import { createHmac, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/** An Ed25519 private key in PKCS#8 DER is this prefix and the 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The session's private key. Its seed's label differs from the one the former HMAC key was derived
 * with: that key was written into containers, so no seed equals a value that was ever on their disk.
 */
export function sessionSigningKey(secret: string, sessionId: string): KeyObject {
  const seed = createHmac('sha256', secret).update(`hackstream-session-signing-key:${sessionId}`).digest();
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** The public key as the session's `token.pub` file holds it: its 32 raw bytes, hex. */
export function sessionPublicKeyHex(secret: string, sessionId: string): string {
  const spki = createPublicKey(sessionSigningKey(secret, sessionId)).export({ format: 'der', type: 'spki' });
  return spki.subarray(-32).toString('hex');
}
