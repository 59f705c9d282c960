/**
 * Password hashing with Argon2id (OWASP's recommended parameters for interactive logins). Each
 * hash takes ~19 MiB and a core for tens of milliseconds, so the hashes one API process runs at
 * once are capped (`HACKSTREAM_PASSWORD_HASH_CONCURRENCY`): a burst of logins waits briefly for a
 * slot or gets 503 with Retry-After, instead of saturating the CPU and memory for every request.
 * The cap is per process, like the CPU and memory it protects; the API sets it at start.
 */
import argon2 from 'argon2';
import { HttpError } from '../http-error.js';
import { Semaphore, SemaphoreFullError } from '../semaphore.js';

const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Waiting a few hash-lengths is cheaper for a client than a retry; longer means overload. */
const MAX_WAIT_MS = 2_000;
const WAITERS_PER_SLOT = 4;

export const DEFAULT_HASH_CONCURRENCY = 2;

const gateOf = (concurrency: number) => new Semaphore(concurrency, { maxWaiting: concurrency * WAITERS_PER_SLOT, maxWaitMs: MAX_WAIT_MS });
let gate = gateOf(DEFAULT_HASH_CONCURRENCY);

/** Sets the cap on concurrent hashes in this process (at start, from the configuration). */
export function limitConcurrentHashes(concurrency: number): void {
  if (gate.limit !== concurrency) gate = gateOf(concurrency);
}

/** The answer when no hash slot is free: nothing was checked, the client may retry shortly. */
export const HASHING_BUSY = 'password_checks_busy';
export const isHashingBusy = (err: unknown): boolean => err instanceof HttpError && err.code === HASHING_BUSY;

async function gated<T>(task: () => Promise<T>): Promise<T> {
  try {
    return await gate.run(task);
  } catch (err) {
    if (err instanceof SemaphoreFullError) {
      throw new HttpError(503, HASHING_BUSY, 'too many password checks at once; try again in a moment', { 'Retry-After': '1' });
    }
    throw err;
  }
}

export async function hashPassword(password: string): Promise<string> {
  return gated(() => argon2.hash(password, OPTIONS));
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  return gated(async () => {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false; // a malformed stored hash never authenticates
    }
  });
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the same effort as a real verification, so that "unknown user" and "wrong password"
 * take as long as each other and cannot be told apart by timing.
 */
export async function burnVerification(password: string): Promise<false> {
  // A busy refusal must not be remembered as the dummy hash: the next caller tries again.
  dummyHash ??= hashPassword('hackstream-timing-equaliser').catch((err: unknown) => {
    dummyHash = undefined;
    throw err;
  });
  await verifyPassword(await dummyHash, password);
  return false;
}
