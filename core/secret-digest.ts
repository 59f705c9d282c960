/**
 * The digest under which secrets are stored and looked up (connect tokens, resume cookies,
 * refresh tokens, one-time codes): SHA-256, hex. The secrets carry at least 128 random bits, so
 * a fast unsalted hash is enough, and it lets a lookup be one indexed read.
 */
import { createHash } from 'node:crypto';

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');
