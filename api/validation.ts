/** Request validation at the boundary (zod); failures become 400s that name the bad field. */
import { z } from 'zod';
import { APPS, PROFILES, QUALITIES } from '../workflows/messages.js';
import { HttpError } from './http-error.js';

export function parseInput<T extends z.ZodType>(schema: T, input: unknown, what = 'request body'): z.infer<T> {
  if (input === undefined) throw new HttpError(400, 'invalid_request', `${what} is missing (send JSON with content-type application/json)`);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details = result.error.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
  throw new HttpError(400, 'invalid_request', `invalid ${what}: ${details}`);
}

/** Only web pages: no javascript:, data:, file: or other schemes, no credentials in the URL. */
export const safeWebUrl = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .transform((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute http(s) URL' });
      return z.NEVER;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: `scheme ${url.protocol} is not allowed (only http and https)` });
      return z.NEVER;
    }
    if (url.username || url.password) {
      ctx.addIssue({ code: 'custom', message: 'must not contain credentials' });
      return z.NEVER;
    }
    return url.href;
  });

export const loginBody = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

export const createSessionBody = z.strictObject({
  app: z.enum(APPS, { error: (i) => (i.input === undefined ? 'is required' : `unknown app (available: ${APPS.join(', ')})`) }),
  url: safeWebUrl.optional(),
  profile: z.enum(PROFILES).default('ephemeral'),
  quality: z.enum(QUALITIES).default('auto'),
});
export type CreateSessionBody = z.infer<typeof createSessionBody>;

export const sessionIdParam = z.uuid({ error: 'is not a valid session id' });

export const listSessionsQuery = z.strictObject({
  all: z.enum(['1', 'true', '0', 'false']).optional().transform((v) => v === '1' || v === 'true'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
