/** Request validation at the boundary (zod); failures become 400s that name the bad field. */
import { z } from 'zod';
import { ROLES } from '../core/roles.js';
import { egressDestinationsSchema } from '../core/egress-destinations.js';
import { APP_NAME_PATTERN, APP_NAME_RULE, PROFILES, QUALITIES } from '../core/catalog.js';
import { AUDIT_ACTIONS } from '../core/audit-actions.js';
import { decodePageCursor } from '../core/page-cursor.js';
import { SESSION_STATES } from '../core/session-snapshot.js';
import { MAX_NODE_LABELS, NODE_ID_PATTERN, NODE_LABEL_PATTERN } from '../core/node-names.js';
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
  totp_code: z.string().regex(/^\d{6}$/, 'must be the 6 digits your authenticator shows').optional(),
  recovery_code: z.string().min(1).max(64).optional(),
});

export const refreshBody = z.strictObject({ refresh_token: z.string().min(1).max(256) });

/** New passwords: long enough to resist guessing; the maximum keeps hashing cheap to refuse. */
const newPassword = z.string().min(12, 'must be at least 12 characters').max(1024);

export const redeemBody = z.strictObject({ code: z.string().min(1).max(256), password: newPassword });

/** The current password, asked again before an account change (api/auth/reauthentication.ts). */
const currentPassword = z.string().min(1).max(1024);

export const totpBeginBody = z.strictObject({ password: currentPassword });

export const changePasswordBody = z.strictObject({ current_password: currentPassword, new_password: newPassword });

export const totpConfirmBody = z.strictObject({ code: z.string().regex(/^\d{6}$/, 'must be the 6 digits your authenticator shows') });

export const userIdParam = z.uuid({ error: 'is not a valid user id' });
/** An app's name; whether the catalog has it is the use case's question (the catalog is configuration). */
export const appParam = z.string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') }).regex(APP_NAME_PATTERN, APP_NAME_RULE);
export const nodeIdParam = z.string().regex(NODE_ID_PATTERN, 'is not a node name (1–63 lower-case letters, digits and dashes)');

export const roleParam = z.enum(ROLES, { error: `is not a role (roles: ${ROLES.join(', ')})` });

/** An admin's egress openings for a role: the whole list, replacing the previous one. */
export const roleEgressBody = z.strictObject({ destinations: egressDestinationsSchema });

export const createUserBody = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/, 'must be 3–64 letters, digits, dots, dashes or underscores'),
  role: z.enum(ROLES).default('user'),
  /** Without a password the user is invited: the response carries a one-time code. */
  password: newPassword.optional(),
});

const quotaOverrides = z.strictObject({
  max_sessions: z.number().int().min(0).max(1000).optional(),
  memory_mb: z.number().int().min(256).max(262_144).optional(),
  cpus: z.number().positive().max(64).optional(),
  idle_timeout_seconds: z.number().int().positive().max(7 * 86_400).optional(),
  max_duration_seconds: z.number().int().positive().max(30 * 86_400).optional(),
  storage_mb: z.number().int().min(0).max(10_485_760).optional(),
});

export const patchUserBody = z
  .strictObject({
    role: z.enum(ROLES).optional(),
    disabled: z.boolean().optional(),
    /** Overrides of the role's quota; null clears them. */
    quota: quotaOverrides.nullable().optional(),
    reset_password: z.literal(true).optional(),
    reset_totp: z.literal(true).optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'nothing to change');

/** A list's `next_cursor`, passed back for the next page. */
const pageCursor = z
  .string()
  .max(200)
  .transform((v, ctx) => decodePageCursor(v) ?? (ctx.addIssue({ code: 'custom', message: 'is not one this API issued' }), z.NEVER))
  .optional()
  .meta({ description: 'the `next_cursor` of the previous page' });

export const auditQuery = z.strictObject({
  user: z.uuid({ error: 'is not a valid user id' }).optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  since: z.iso.datetime({ offset: true }).transform((v) => new Date(v)).optional(),
  until: z.iso.datetime({ offset: true }).transform((v) => new Date(v)).optional(),
  cursor: pageCursor,
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const nodeLabels = z
  .record(
    z.string().regex(NODE_LABEL_PATTERN, 'a label key is 1–63 letters, digits, dots, dashes or underscores'),
    z.string().regex(NODE_LABEL_PATTERN, 'a label value is 1–63 letters, digits, dots, dashes or underscores'),
  )
  .refine((r) => Object.keys(r).length <= MAX_NODE_LABELS, `at most ${MAX_NODE_LABELS} labels`);

export const createSessionBody = z.strictObject({
  app: appParam,
  url: safeWebUrl.optional(),
  profile: z.enum(PROFILES).default('ephemeral'),
  quality: z.enum(QUALITIES).default('auto'),
  node_labels: nodeLabels
    .default({})
    .meta({ description: 'labels the session node must have (e.g. {"gpu": "true"}), besides those the role requires' }),
});
export type CreateSessionBody = z.infer<typeof createSessionBody>;

/** A node's enrolment (`hackstream-node enroll`): its certificate request and what it offers. */
export const nodeEnrolmentBody = z.strictObject({
  csr: z.string().max(4096).meta({ description: 'PEM PKCS#10 request, subject CN=<node name>, ECDSA P-256 key, signed by that key' }),
  labels: nodeLabels.default({}).meta({ description: 'what sessions may ask of the node, e.g. {"region": "home"}' }),
  capacity: z.strictObject({
    memory_mb: z.int().min(256).max(16_777_216),
    cpus: z.number().positive().max(4096),
    sessions: z.int().min(0).max(100_000),
  }),
});

export const nodeHeartbeatBody = z.strictObject({
  reconciled: z.boolean().default(false).meta({ description: 'a lost node back: it has removed what its lost sessions left, and is in service again' }),
});

export const sessionIdParam = z.uuid({ error: 'is not a valid session id' });

export const listSessionsQuery = z.strictObject({
  all: z
    .enum(['1', 'true', '0', 'false'])
    .optional()
    .transform((v) => v === '1' || v === 'true')
    .meta({ description: "admins: every user's sessions, not only their own" }),
  state: z
    .enum([...SESSION_STATES, 'live'], { error: `is not a state (states: ${SESSION_STATES.join(', ')}, or live)` })
    .optional()
    .meta({ description: '`live`: any state but stopped and failed' }),
  user: z.uuid({ error: 'is not a valid user id' }).optional().meta({ description: 'with `all`: only this user’s sessions' }),
  app: appParam.optional(),
  cursor: pageCursor,
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type ListSessionsQuery = z.infer<typeof listSessionsQuery>;
