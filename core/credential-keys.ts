/**
 * Redis key layout of the browser path's credentials. The API issues and checks them; the
 * worker revokes them all when the session is torn down. Only hashes of the secrets are keys:
 * a Redis dump reveals no usable token or cookie.
 */
import { createHash } from 'node:crypto';

const PREFIX = 'hackstream';

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** One-time connect token → `{ userId }`, TTL ≤ 60 s, consumed with GETDEL. */
export const connectTokenKey = (sessionId: string, tokenHash: string): string => `${PREFIX}:connect:${sessionId}:${tokenHash}`;

/** Resume cookie → `{ userId }`, sliding TTL, valid only for its session. */
export const resumeKey = (sessionId: string, cookieHash: string): string => `${PREFIX}:resume:${sessionId}:${cookieHash}`;

/** Set of every credential key issued for a session, so teardown can delete them all. */
export const sessionCredentialsKey = (sessionId: string): string => `${PREFIX}:credentials:${sessionId}`;
