/** Password hashing with Argon2id (OWASP's recommended parameters for interactive logins). */
import argon2 from 'argon2';

const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export async function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false; // a malformed stored hash never authenticates
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the same effort as a real verification, so that "unknown user" and "wrong password"
 * take as long as each other and cannot be told apart by timing.
 */
export async function burnVerification(password: string): Promise<false> {
  dummyHash ??= hashPassword('hackstream-timing-equaliser');
  await verifyPassword(await dummyHash, password);
  return false;
}
