/**
 * What the API answers, as zod schemas: the types the services build their responses with
 * (z.infer), the OpenAPI document's response schemas (api/contract/openapi-document.ts), and
 * what the contract tests parse real responses with. Objects are strict: a field the contract
 * does not name (a secret that leaked into a view) fails the contract tests.
 */
import 'zod-openapi';
import { z } from 'zod';
import { IDENTITY_SOURCES, ROLES } from '../../core/roles.js';
import { APP_NAME_PATTERN, PROFILES, QUALITIES } from '../../core/catalog.js';
import { AUDIT_ACTIONS } from '../../core/audit-actions.js';
import { END_REASONS, SESSION_STATES } from '../../core/session-snapshot.js';
import { NODE_STATES } from '../../core/node-names.js';

const timestamp = z.iso.datetime({ offset: true }).meta({ description: 'ISO 8601 time (UTC)' });
const uuid = z.uuid();

/** Every 4xx and 5xx answer: a stable machine-readable `code`, a message for humans, and per-code extras. */
export const errorResponse = z
  .strictObject({
    error: z
      .object({
        code: z.string().meta({ description: 'stable, machine-readable: `invalid_request`, `unauthorized`, `quota_exceeded`, …' }),
        message: z.string(),
      })
      .catchall(z.union([z.string(), z.number()]))
      .meta({ description: 'Extra fields by code: `session_id` (also profile_in_use: the session that has the profile), `limit`/`max`/`current` (quota_exceeded, storage_quota_exceeded), `request_id` (5xx).' }),
  })
  .meta({ id: 'Error' });

export const quotaFields = z
  .strictObject({
    max_sessions: z.number().int(),
    memory_mb: z.number().int(),
    cpus: z.number(),
    idle_timeout_seconds: z.number().int(),
    max_duration_seconds: z.number().int(),
    storage_mb: z.number().int(),
  })
  .meta({ id: 'Quota' });

export const appList = z.strictObject({
  apps: z.array(
    z
      .strictObject({
        name: z.string().meta({ description: 'what POST /v1/sessions takes as `app`' }),
        title: z.string(),
        profiles: z.array(z.enum(PROFILES)).meta({ description: 'the `profile` modes it may start with' }),
        opens_urls: z.boolean().meta({ description: 'whether it opens the page a session is given (`url`); an app that does not refuses one' }),
        warm_qualities: z.array(z.enum(QUALITIES)).meta({ description: 'qualities a warm pool keeps it ready in (a start then takes a fraction of a second); empty: it starts cold' }),
      })
      .meta({ id: 'App' }),
  ),
});
export type AppList = z.infer<typeof appList>;

export const profileView = z
  .strictObject({
    app: z.string(),
    node: z.string().meta({ description: 'the session node that holds its volume: its sessions run there' }),
    used_mb: z.number().int(),
    size_mb: z.number().int(),
    measured_at: z.iso.datetime(),
  })
  .meta({ id: 'Profile' });

export const quotaResponse = z.strictObject({
  quota: quotaFields,
  usage: z.strictObject({
    sessions: z.number().int(),
    storage_mb: z.number().int().meta({ description: "what the caller's persistent profiles use, as measured when each one's last session ended" }),
    profiles: z.array(
      z.strictObject({
        app: z.string(),
        used_mb: z.number().int(),
        size_mb: z.number().int().meta({ description: 'the size of its file system: writes beyond it fail inside the session' }),
        measured_at: z.iso.datetime(),
      }),
    ),
  }),
});

export const tokenPair = z
  .strictObject({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int().meta({ description: 'seconds' }),
    refresh_token: z.string().meta({ description: 'works once: each refresh returns a new pair' }),
    refresh_expires_in: z.number().int(),
  })
  .meta({ id: 'TokenPair' });

export const me = z.strictObject({ id: uuid, username: z.string(), role: z.enum(ROLES), totp_enabled: z.boolean() }).meta({ id: 'Me' });

export const userView = z
  .strictObject({
    id: uuid,
    username: z.string(),
    role: z.enum(ROLES),
    identity: z.enum(IDENTITY_SOURCES).meta({ description: "local: a password here; proxy: the sign-in proxy vouches for it, and its role follows the proxy's groups" }),
    disabled: z.boolean(),
    pending_password: z.boolean().meta({ description: 'invited, or reset, and no password chosen yet' }),
    totp_enabled: z.boolean(),
    quota_overrides: quotaFields.partial().nullable().meta({ description: "fields that replace the role's quota" }),
    created_at: timestamp,
  })
  .meta({ id: 'User' });
export type UserView = z.infer<typeof userView>;

/** How one may sign in here, as this request sees it. */
export const signInMethods = z
  .strictObject({
    password: z.boolean().meta({ description: 'local accounts sign in with a password (POST /v1/login)' }),
    proxy: z.boolean().meta({ description: 'this request came through the sign-in proxy with an identity: POST /v1/auth/proxy signs it in' }),
  })
  .meta({ id: 'SignInMethods' });
export type SignInMethods = z.infer<typeof signInMethods>;

/** A one-time code (an invitation, a password reset): shown once, redeemed with POST /v1/redeem. */
const oneTimeCode = z.strictObject({ code: z.string(), expires_at: timestamp }).meta({ id: 'OneTimeCode' });

export const createdUser = z.strictObject({
  user: userView,
  invite: oneTimeCode
    .optional()
    .meta({ description: 'without a password in the request: the one-time invitation code, shown only here' }),
});

export const updatedUser = z.strictObject({
  user: userView,
  reset_code: oneTimeCode.optional().meta({ description: 'with `reset_password`: the one-time code the user redeems, shown only here' }),
});

export const sessionView = z
  .strictObject({
    session_id: uuid,
    user_id: uuid,
    app: z.string().regex(APP_NAME_PATTERN).meta({ description: 'an app of the catalog (GET /v1/apps)' }),
    state: z.enum(SESSION_STATES),
    reason: z.enum(END_REASONS).nullable(),
    message: z.string().nullable(),
    url: z.string().nullable(),
    quality: z.enum(QUALITIES),
    created_at: timestamp,
    ready_at: timestamp.nullable(),
    attached_at: timestamp.nullable(),
    ended_at: timestamp.nullable(),
    node: z.string().nullable().meta({ description: 'the session node it runs on; null before it is placed' }),
  })
  .meta({ id: 'Session' });
export type SessionView = z.infer<typeof sessionView>;

export const sessionPage = z.strictObject({
  sessions: z.array(sessionView),
  next_cursor: z.string().nullable().meta({ description: 'pass as `cursor` for the next (older) page; null on the last' }),
});

export const connectDescriptor = z
  .strictObject({
    expires_at: timestamp.meta({ description: 'the one-time credentials below work once, until then' }),
    app_link: z.string().meta({ description: '`hackstream://<host[:port]>/sessions/<id>`: opens the session in the HackStream client' }),
    browser: z.strictObject({ url: z.url().meta({ description: "xpra's HTML5 client on the session's own origin, with a one-time token" }) }),
    native: z.strictObject({
      uri: z.string(),
      host: z.string(),
      port: z.number().int(),
      sni: z.string(),
      username: z.string(),
      password: z.string(),
      ca_url: z.url(),
      ca_fingerprint_sha256: z.string(),
    }),
  })
  .meta({ id: 'ConnectDescriptor' });
export type ConnectDescriptor = z.infer<typeof connectDescriptor>;

export const connectableSession = sessionView
  .extend({
    connect: connectDescriptor,
    start: z.enum(['warm', 'cold']).optional().meta({ description: 'how a new session got its container: from the warm pool, or a cold start' }),
  })
  .meta({ id: 'ConnectableSession' });
export type ConnectableSessionView = z.infer<typeof connectableSession>;

export const roleEgressView = z
  .strictObject({
    role: z.enum(ROLES),
    configured: z.array(z.string()).meta({ description: 'from HACKSTREAM_ROLE_POLICIES (changed by redeploying)' }),
    added: z.array(z.string()).meta({ description: 'kept by admins through this API' }),
    updated_at: timestamp.nullable(),
  })
  .meta({ id: 'RoleEgress' });
export type RoleEgressView = z.infer<typeof roleEgressView>;

const nodeCapacity = z.strictObject({ memory_mb: z.int(), cpus: z.number(), sessions: z.int() });
export const nodeView = z
  .strictObject({
    id: z.string(),
    state: z.enum(NODE_STATES).meta({ description: '`pending` until approved; `lost` when it stopped sending heartbeats' }),
    labels: z.record(z.string(), z.string()),
    capacity: nodeCapacity,
    reserved: nodeCapacity.meta({ description: 'what its sessions hold of the capacity' }),
    last_heartbeat_at: timestamp.nullable(),
    fingerprint: z.string().nullable().meta({ description: "an enrolled node's key fingerprint (SHA256:…), to compare with what the node printed before approving it; null for a node installed with database access" }),
    created_at: timestamp,
  })
  .meta({ id: 'Node' });
export type NodeViewBody = z.infer<typeof nodeView>;
export const nodeList = z.strictObject({ nodes: z.array(nodeView) }).meta({ id: 'NodeList' });
export type NodeListBody = z.infer<typeof nodeList>;

const nodeState = z.enum(NODE_STATES);
export const nodeEnrolment = z
  .strictObject({ id: z.string(), state: nodeState, fingerprint: z.string().meta({ description: "the key's SHA-256 fingerprint, as the node printed it" }) })
  .meta({ id: 'NodeEnrolment' });
export type NodeEnrolmentBody = z.infer<typeof nodeEnrolment>;
export const nodeCertificate = z
  .strictObject({
    id: z.string(),
    state: nodeState,
    certificate: z.string().optional().meta({ description: "the node's client certificate (PEM) from the node CA; absent while the node waits for approval" }),
    not_after: timestamp.optional(),
    ca_certificate: z.string().optional().meta({ description: "the node CA's certificate (PEM): the node gateway's certificate is checked against it" }),
    gateway: z
      .strictObject({ address: z.string().meta({ description: 'host:port the node dials' }), server_name: z.string().meta({ description: "the name on the gateway's certificate" }) })
      .optional(),
    temporal: z
      .strictObject({
        namespace: z.string(),
        task_queue: z.string().meta({ description: 'the control task queue; the node polls its own, `<task_queue>-node-<id>`' }),
      })
      .optional(),
    tunnel: z
      .strictObject({
        user: z.string().meta({ description: 'the SSH user of the tunnel' }),
        listen: z.string().meta({ description: "host:port of the node's reverse listener on the control host (its `ssh -R` address)" }),
        host_key: z.string().meta({ description: "the tunnel sshd's public host key, in OpenSSH's form" }),
      })
      .optional()
      .meta({ description: "the node's data tunnel, reached through the gateway (ALPN `ssh`); present once the node is approved" }),
  })
  .meta({ id: 'NodeCertificate' });
export type NodeCertificateBody = z.infer<typeof nodeCertificate>;
export const nodeHeartbeat = z
  .strictObject({ id: z.string(), state: nodeState.meta({ description: 'the state the node acts on (draining: no new work; lost: reconcile, then back in service)' }) })
  .meta({ id: 'NodeHeartbeat' });
export type NodeHeartbeatBody = z.infer<typeof nodeHeartbeat>;

export const auditEntry = z
  .strictObject({
    id: uuid,
    occurred_at: timestamp,
    action: z.enum(AUDIT_ACTIONS),
    actor_id: uuid.nullable(),
    actor_name: z.string().nullable(),
    user_id: uuid.nullable(),
    target_type: z.string().nullable(),
    target_id: z.string().nullable(),
    source_ip: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'AuditEvent' });

export const auditPage = z.strictObject({
  events: z.array(auditEntry),
  next_cursor: z.string().nullable().meta({ description: 'pass as `cursor` for the next (older) page; null on the last' }),
});

const readinessCheck = z.union([z.strictObject({ status: z.literal('ok') }), z.strictObject({ status: z.literal('error'), error: z.string() })]);
const dependencyChecks = z.strictObject({ database: readinessCheck, redis: readinessCheck, temporal: readinessCheck, docker: readinessCheck });
export const readiness = z.strictObject({ status: z.enum(['ready', 'not_ready']), checks: dependencyChecks });

const startFigures = z.strictObject({
  count: z.number().int(),
  p50_ms: z.number().nullable(),
  p95_ms: z.number().nullable(),
});

export const adminOverview = z
  .strictObject({
    sessions: z.strictObject({ provisioning: z.number().int(), ready: z.number().int(), active: z.number().int(), stopping: z.number().int() }),
    pools: z.array(z.strictObject({ app: z.string().regex(APP_NAME_PATTERN), quality: z.enum(QUALITIES), target: z.number().int(), ready: z.number().int() })),
    pool_claims: z
      .strictObject({ claims: z.number().int(), misses: z.number().int() })
      .meta({ description: 'last hour: sessions that took a warm container, and cold starts of an app and quality that has a pool' }),
    starts: z.strictObject({ warm: startFigures, cold: startFigures }).meta({ description: 'request to ready, sessions ready in the last hour' }),
    dependencies: dependencyChecks,
    workers: z.array(
      z.strictObject({ identity: z.string(), docker: z.enum(['ok', 'unreachable']), error: z.string().optional(), reported_at: timestamp }),
    ),
    temporal_ui: z
      .strictObject({ workflow_url_template: z.string().meta({ description: 'a session\'s workflow in the Temporal UI: replace `{session_id}`' }) })
      .nullable(),
  })
  .meta({ id: 'AdminOverview' });
export type AdminOverview = z.infer<typeof adminOverview>;

// The shapes by name, for code that builds or reads them (the services, the dashboard).
export type TokenPair = z.infer<typeof tokenPair>;
export type Me = z.infer<typeof me>;
export type QuotaFields = z.infer<typeof quotaFields>;
export type QuotaResponse = z.infer<typeof quotaResponse>;
export type SessionPage = z.infer<typeof sessionPage>;
export type OneTimeCode = z.infer<typeof oneTimeCode>;
export type CreatedUser = z.infer<typeof createdUser>;
export type UpdatedUser = z.infer<typeof updatedUser>;
export type AuditEntry = z.infer<typeof auditEntry>;
export type AuditPage = z.infer<typeof auditPage>;
