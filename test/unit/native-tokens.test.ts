import { createHmac, createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mintNativeToken, NATIVE_TOKEN_CONTEXT } from '../../api/connect/native-tokens.js';
import { sessionPublicKeyHex, sessionSigningKey } from '../../core/session-token-key.js';

const SECRET = 'a-session-token-secret-of-32-characters!';
const SESSION = '2f0c4c54-0b0e-4c6e-9d43-6b1f2a3c4d5e';

/** What the container does (images/session/hackstream_auth.py): the raw public key, hex, verifies. */
function verifiesWith(publicKeyHex: string, username: string, password: string): boolean {
  const spkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');
  const key = createPublicKey({ key: Buffer.concat([spkiPrefix, Buffer.from(publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
  return verify(null, Buffer.from(`${NATIVE_TOKEN_CONTEXT}${username}`), key, Buffer.from(password, 'base64url'));
}

describe('native tokens', () => {
  it('are an expiring id with its issue time, signed with the session key, verifiable with its public key alone', () => {
    const now = Date.UTC(2026, 0, 1) + 123;
    const token = mintNativeToken(SECRET, SESSION, 60, now);
    expect(token.username).toMatch(/^\d{10}-\d{13}_[A-Za-z0-9_-]{22}$/);
    expect(token.username.split('-')[0]).toBe(String(Math.floor(now / 1000) + 60));
    expect(token.username.split('-')[1]!.split('_')[0]).toBe(String(now));
    expect(token.expiresAt.getTime()).toBe(Math.floor(now / 1000) * 1000 + 60_000);
    expect(token.password).toMatch(/^[A-Za-z0-9_-]{86}$/); // a 64-byte Ed25519 signature
    const publicKey = sessionPublicKeyHex(SECRET, SESSION);
    expect(publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(verifiesWith(publicKey, token.username, token.password)).toBe(true);
    const other = mintNativeToken(SECRET, SESSION, 60, now);
    expect(other.username).not.toBe(token.username);
    expect(verifiesWith(publicKey, other.username, token.password)).toBe(false);
  });

  it("derive one key pair per session and secret, the same in every process", () => {
    expect(sessionPublicKeyHex(SECRET, SESSION)).toBe(sessionPublicKeyHex(SECRET, SESSION));
    expect(sessionPublicKeyHex(SECRET, 'another-session')).not.toBe(sessionPublicKeyHex(SECRET, SESSION));
    expect(sessionPublicKeyHex(`${SECRET}x`, SESSION)).not.toBe(sessionPublicKeyHex(SECRET, SESSION));
    const token = mintNativeToken(SECRET, 'another-session', 60);
    expect(verifiesWith(sessionPublicKeyHex(SECRET, SESSION), token.username, token.password)).toBe(false);
  });

  it('never use, as the private seed, the HMAC key the former design wrote into containers', () => {
    const formerKey = createHmac('sha256', SECRET).update(`hackstream-session-key:${SESSION}`).digest();
    const seed = sessionSigningKey(SECRET, SESSION).export({ format: 'der', type: 'pkcs8' }).subarray(-32);
    expect(seed.equals(formerKey)).toBe(false);
    expect(sessionPublicKeyHex(SECRET, SESSION)).not.toBe(formerKey.toString('hex'));
  });
});
