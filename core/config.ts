/**
 * Configuration, parsed once at process start from the environment.
 *
 * Every setting is named here with its variable and default; the process refuses to start on a bad
 * value with a message that names the variable. Parsed config is passed down explicitly: nothing
 * below the entry points reads `process.env`.
 */
import { PACKAGE_ROOT } from './package-info.js';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { readAppCatalog, type AppCatalog } from './app-catalog.js';
import { APP_NAME_PATTERN, QUALITIES, type Quality } from './catalog.js';
import { egressDestinationsSchema } from './egress-destinations.js';
import { INGRESS_GROUP } from './ingress-names.js';
import { ROLES, type Role } from './roles.js';
import { isKubeLabelValue, KUBE_NAME, KUBE_SUBDOMAIN, parseKubeLabels } from './kube-names.js';
import { DEFAULT_NODE_ID, MAX_NODE_LABELS, NODE_ID_PATTERN, NODE_LABEL_PATTERN, PLACEMENT_STRATEGIES, parseNodeLabels } from './node-names.js';

/** The control task queue when HACKSTREAM_TASK_QUEUE is unset (stack/up.sh's). */
export const DEFAULT_TASK_QUEUE = 'hackstream-sessions';
const seconds = (def: number) => z.coerce.number().int().positive().default(def);
const headerName = (def: string) =>
  z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'must be an HTTP header name such as X-Forwarded-User').default(def);

/** How often the worker's session monitor looks at the sessions (HACKSTREAM_ACTIVITY_POLL_SECONDS's default). */
export const DEFAULT_ACTIVITY_POLL_SECONDS = 5;
const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);

/** One `app:quality:size` entry of HACKSTREAM_POOL, or undefined if it is not one. */
function parsePoolSpec(part: string) {
  const [app = '', quality = '', size = '', ...rest] = part.trim().split(':');
  const ok = rest.length === 0 && APP_NAME_PATTERN.test(app) && (QUALITIES as readonly string[]).includes(quality) && /^\d{1,2}$/.test(size);
  return ok ? { app, quality: quality as Quality, size: Number(size) } : undefined;
}
export type PoolSpecConfig = NonNullable<ReturnType<typeof parsePoolSpec>>;

/** Environment variable name → schema. Names are the documented interface (see README). */
const envSchema = z.object({
  HACKSTREAM_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HACKSTREAM_LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  HACKSTREAM_DATA_DIR: z.string().min(1).default('.data'),

  HACKSTREAM_DB_DRIVER: z.enum(['sqlite', 'postgresql']).default('sqlite'),
  HACKSTREAM_DB_PATH: z.string().min(1).optional(),
  HACKSTREAM_DB_URL: z.string().url().optional(),

  // Carries the process's Redis user and password (redis://USER:PASSWORD@HOST:PORT): a secret,
  // never logged.
  HACKSTREAM_REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),

  HACKSTREAM_TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  HACKSTREAM_TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  // TLS to Temporal's frontend (mutual with a client certificate): on when any of these is set.
  HACKSTREAM_TEMPORAL_TLS_CA_FILE: z.string().min(1).optional(),
  HACKSTREAM_TEMPORAL_TLS_CERT_FILE: z.string().min(1).optional(),
  HACKSTREAM_TEMPORAL_TLS_KEY_FILE: z.string().min(1).optional(),
  HACKSTREAM_TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  // Part of Redis keys and container labels: a tame identifier.
  HACKSTREAM_TASK_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'letters, digits, "-" and "_" only (at most 64)')
    .default(DEFAULT_TASK_QUEUE),

  HACKSTREAM_DOCKER_SOCKET: z.string().min(1).default('/var/run/docker.sock'),
  HACKSTREAM_SESSION_SUBNETS: z
    .string()
    .regex(/^\d{1,3}(\.\d{1,3}){3}\/([0-9]|1[0-9]|2[0-8])$/, 'must be an IPv4 range no smaller than /28, e.g. 10.213.0.0/16')
    .default('10.213.0.0/16'),
  // The group Traefik runs with: the only host processes that may open connections into sessions
  // (the host firewall around session networks, activities/session-firewall.ts).
  HACKSTREAM_INGRESS_GROUP: z
    .string()
    .regex(/^([a-z_][a-z0-9_-]{0,31}|[0-9]{1,10})$/, 'must be a group name such as hackstream-ingress, or a numeric gid')
    .default(INGRESS_GROUP),
  // Where a remote ingress connects from, on a session node that is not the ingress's host:
  // forwarded connections from these ranges into session networks, to sessions' xpra ports only.
  HACKSTREAM_INGRESS_SOURCES: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s !== ''))
    .pipe(z.array(z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/([0-9]|[12][0-9]|3[0-2])$/, 'must be IPv4 ranges such as 10.0.0.5/32, comma-separated')).max(16)),
  // `all`: the control task queue (workflows, database, routes) and this node's own; `node`: only
  // this node's, a session host joining a control plane on another host.
  HACKSTREAM_WORKER_ROLE: z.enum(['all', 'node']).default('all'),
  // What this worker's node runs sessions on: the host's Docker engine, or a Kubernetes cluster
  // (sessions as pods, worker/kube-session-host.ts); the HACKSTREAM_KUBE_* settings are the cluster's.
  HACKSTREAM_RUNTIME: z.enum(['docker', 'kubernetes']).default('docker'),
  HACKSTREAM_KUBE_NAMESPACE: z.string().regex(KUBE_NAME, 'must be a namespace name such as hackstream-sessions').default('hackstream-sessions'),
  HACKSTREAM_KUBE_INGRESS_NAMESPACE: z.string().regex(KUBE_NAME, "must be the ingress controller's namespace, such as traefik").default('traefik'),
  HACKSTREAM_KUBE_INGRESS_POD_LABELS: z
    .string()
    .default('app.kubernetes.io/name=traefik')
    .transform((value, ctx) => {
      const parsed = parseKubeLabels(value);
      if (parsed.ok && Object.keys(parsed.labels).length > 0) return parsed.labels;
      ctx.addIssue({ code: 'custom', message: `"${parsed.ok ? value : parsed.bad}" is not key=value labels of the ingress controller's pods, e.g. app.kubernetes.io/name=traefik` });
      return z.NEVER;
    }),
  HACKSTREAM_KUBE_NODE_NAME: z.string().regex(KUBE_SUBDOMAIN, 'must be a Kubernetes node name').optional(),
  HACKSTREAM_KUBE_PROFILE_STORAGE_CLASS: z.string().regex(KUBE_SUBDOMAIN, 'must be a storage class name').optional(),
  HACKSTREAM_KUBE_NODE_LOST_AFTER_SECONDS: z.coerce.number().int().min(1).max(3600).optional(),
  HACKSTREAM_KUBE_USER_NAMESPACES: z.enum(['on', 'off']).default('on'),
  // Where the ingress controller reaches the API's connect check from inside the cluster; unset: the API's own address.
  HACKSTREAM_KUBE_API_UPSTREAM: z.string().url().optional(),
  // The cluster's credentials for a worker outside it (the usual variable); inside, its service account's.
  KUBECONFIG: z.string().min(1).optional(),
  // On a cluster: the Secret, namespace/name, that keeps the HackStream CA (worker/ca-store-main.ts).
  HACKSTREAM_KUBE_CA_STORE: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return undefined;
      const [namespace = '', name = '', ...rest] = value.split('/');
      if (rest.length === 0 && KUBE_NAME.test(namespace) && KUBE_SUBDOMAIN.test(name)) return { namespace, name };
      ctx.addIssue({ code: 'custom', message: 'must be namespace/name of a Secret, e.g. hackstream/hackstream-ca' });
      return z.NEVER;
    }),

  // Sessions run in the Docker engine's user namespace (dockerd --userns-remap): their uids are a
  // subordinate range, no host account. `off` accepts an engine without one (sessions' uid 1000
  // is then the host's uid 1000).
  HACKSTREAM_DOCKER_USERNS: z.enum(['required', 'off']).default('required'),
  // The user whose subordinate ids (/etc/subuid, /etc/subgid) dockerd maps containers to.
  HACKSTREAM_DOCKER_USERNS_USER: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a user name such as dockremap')
    .default('dockremap'),
  // Sessions' identical memory pages shared through the kernel's same-page merging (KSM,
  // images/session/memory-merge.py); off by default, why: the README's "Sessions' memory merged".
  HACKSTREAM_SESSION_MEMORY_MERGE: z.enum(['on', 'off']).default('off'),

  HACKSTREAM_API_HOST: z.string().min(1).default('127.0.0.1'),
  HACKSTREAM_API_PORT: port(8080),
  HACKSTREAM_PUBLIC_HOST: z.string().min(1).default('localhost'),
  HACKSTREAM_PUBLIC_PORT: port(8443),
  HACKSTREAM_DOMAIN: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/, 'must be a DNS name such as hackstream.example.org')
    .default('hackstream.localhost'),
  HACKSTREAM_CA_DIR: z.string().min(1).optional(),
  HACKSTREAM_ROUTES_DIR: z.string().min(1).optional(),
  HACKSTREAM_SESSION_FILES_DIR: z.string().min(1).optional(),
  HACKSTREAM_PROFILES_DIR: z.string().min(1).optional(),
  HACKSTREAM_INGRESS_ADDRESS: z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port').optional(),
  HACKSTREAM_SESSION_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  HACKSTREAM_CONNECT_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(60, 'must be at most 60').default(60),
  HACKSTREAM_RESUME_TTL_SECONDS: seconds(300),
  HACKSTREAM_ROLE_POLICIES: z.string().optional(),
  HACKSTREAM_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  HACKSTREAM_ACCESS_TOKEN_TTL_SECONDS: seconds(600),
  HACKSTREAM_REFRESH_TOKEN_TTL_SECONDS: seconds(30 * 86_400),
  HACKSTREAM_REFRESH_RETRY_SECONDS: z.coerce.number().int().min(0).max(60).default(10),
  HACKSTREAM_INVITE_TTL_SECONDS: seconds(7 * 86_400),
  HACKSTREAM_DASHBOARD_DIR: z.string().min(1).optional(),
  HACKSTREAM_TEMPORAL_UI_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  HACKSTREAM_SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  HACKSTREAM_LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).default(10),
  HACKSTREAM_LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).default(50),
  HACKSTREAM_LOGIN_WINDOW_SECONDS: seconds(900),
  HACKSTREAM_PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  HACKSTREAM_ADMIN_USERNAME: z.string().min(1).default('admin'),
  // Empty is unset: docker-compose.yml passes `${HACKSTREAM_ADMIN_PASSWORD:-}` once accounts exist.
  HACKSTREAM_ADMIN_PASSWORD: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(12, 'must be at least 12 characters').optional()),
  HACKSTREAM_CREATE_TIMEOUT_SECONDS: seconds(90),
  HACKSTREAM_TRUST_PROXY: z.string().min(1).default('loopback'),
  // Sign-in delegated to the operator's forward-auth proxy (oauth2-proxy and the like): the
  // addresses its connections come from. Its identity headers are believed only on a connection
  // from one of these (the socket's peer, never X-Forwarded-For); empty: no such sign-in.
  HACKSTREAM_AUTH_PROXY_SOURCES: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s !== ''))
    .pipe(z.array(z.union([z.cidrv4(), z.cidrv6()], { error: 'must be address ranges such as 10.0.0.5/32 or fd00::/64, comma-separated' })).max(16)),
  // The headers it sets (oauth2-proxy's --pass-user-headers names; X-Auth-Request-* behind
  // Traefik's ForwardAuth). The user header's value becomes the account's name.
  HACKSTREAM_AUTH_PROXY_USER_HEADER: headerName('X-Forwarded-Preferred-Username'),
  HACKSTREAM_AUTH_PROXY_EMAIL_HEADER: headerName('X-Forwarded-Email'),
  HACKSTREAM_AUTH_PROXY_GROUPS_HEADER: headerName('X-Forwarded-Groups'),
  // group=role pairs, comma-separated: a user in a group mapped to admin is an admin; in none of
  // them, HACKSTREAM_AUTH_PROXY_DEFAULT_ROLE (none: refused). The proxy's groups header is
  // comma-separated too, so a group's name holds no comma (nor "=" or spaces).
  HACKSTREAM_AUTH_PROXY_ROLES: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s !== ''))
    .pipe(z.array(z.string().regex(new RegExp(`^[^=\\s]{1,256}=(${ROLES.join('|')})$`), `must be group=role pairs (roles: ${ROLES.join(', ')}), comma-separated`)).max(64)),
  HACKSTREAM_AUTH_PROXY_DEFAULT_ROLE: z.enum(['none', ...ROLES]).default('none'),
  // off: no password sign-in (nor invitations or new local accounts); only the proxy's.
  HACKSTREAM_LOCAL_ACCOUNTS: z.enum(['on', 'off']).default('on'),
  HACKSTREAM_APT_REPO_DIR: z.string().min(1).optional(),

  HACKSTREAM_APP_CATALOG: z.string().min(1).optional(),
  HACKSTREAM_SESSION_MEMORY_MB: z.coerce.number().int().min(256).default(1536),
  HACKSTREAM_SESSION_CPUS: z.coerce.number().positive().max(64).default(1),
  HACKSTREAM_SESSION_SHM_MB: z.coerce.number().int().min(64).default(512),
  HACKSTREAM_SESSION_PIDS_LIMIT: z.coerce.number().int().min(64).default(1024),
  HACKSTREAM_IDLE_TIMEOUT_SECONDS: seconds(15 * 60),
  HACKSTREAM_CONNECT_TIMEOUT_SECONDS: seconds(5 * 60),
  HACKSTREAM_MAX_SESSION_SECONDS: seconds(8 * 60 * 60),
  HACKSTREAM_READY_TIMEOUT_SECONDS: seconds(60),
  HACKSTREAM_ACTIVITY_POLL_SECONDS: seconds(DEFAULT_ACTIVITY_POLL_SECONDS),
  HACKSTREAM_POOL: z
    .string()
    .default('firefox:auto:2')
    .transform((value, ctx) => {
      if (value.trim() === '' || value.trim() === 'off') return [];
      const pools: PoolSpecConfig[] = [];
      for (const part of value.split(',')) {
        const spec = parsePoolSpec(part);
        if (!spec) {
          ctx.addIssue({
            code: 'custom',
            message: `"${part}" is not app:quality:size (app a name of the app catalog; quality one of ${QUALITIES.join(', ')}; size 0-99), e.g. firefox:auto:2, or "off"`,
          });
          return z.NEVER;
        }
        if (pools.some((p) => p.app === spec.app && p.quality === spec.quality)) {
          ctx.addIssue({ code: 'custom', message: `${spec.app}:${spec.quality} is listed twice` });
          return z.NEVER;
        }
        pools.push(spec);
      }
      return pools.filter((p) => p.size > 0);
    }),
  HACKSTREAM_POOL_INTERVAL_SECONDS: seconds(30),
  HACKSTREAM_POOL_MAX_AGE_SECONDS: seconds(3600),
  HACKSTREAM_RECONCILE_INTERVAL_SECONDS: seconds(60),
  HACKSTREAM_RECONCILE_GRACE_SECONDS: seconds(180),
  HACKSTREAM_WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
  HACKSTREAM_TEMPORAL_METRICS_ADDRESS: z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port').optional(),
  HACKSTREAM_MAX_CONCURRENT_STARTS: z.coerce.number().int().min(1).max(256).optional(),
  HACKSTREAM_NODE_ID: z.string().regex(NODE_ID_PATTERN, 'must be 1–63 lower-case letters, digits and dashes (not at either end)').default(DEFAULT_NODE_ID),
  HACKSTREAM_NODE_LABELS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      const parsed = parseNodeLabels(value);
      if (parsed.ok) return parsed.labels;
      ctx.addIssue({ code: 'custom', message: `"${parsed.bad}" is not key=value (letters, digits, dots, dashes, underscores; each key once), e.g. gpu=true,region=eu` });
      return z.NEVER;
    }),
  HACKSTREAM_NODE_MEMORY_MB: z.coerce.number().int().min(256).optional(),
  HACKSTREAM_NODE_CPUS: z.coerce.number().positive().max(4096).optional(),
  HACKSTREAM_NODE_MAX_SESSIONS: z.coerce.number().int().min(0).max(100_000).default(100),
  HACKSTREAM_NODE_HEARTBEAT_SECONDS: seconds(10),
  HACKSTREAM_NODE_CA_DIR: z.string().min(1).optional(),
  HACKSTREAM_NODE_ENROLMENTS_PER_HOUR: z.coerce.number().int().min(1).max(100_000).default(10),
  HACKSTREAM_NODE_CERT_HOURS: z.coerce.number().int().min(1).max(720).default(24),
  HACKSTREAM_NODE_GATEWAY_HOST: z.string().min(1).default('0.0.0.0'),
  HACKSTREAM_NODE_GATEWAY_PORT: port(7443),
  // The edge nodes' tunnel sshd, run by the node gateway on loopback (nodes reach it through the gateway).
  HACKSTREAM_NODE_TUNNEL_SSH_PORT: port(7022),
  // The account the tunnels log in as: a dedicated one when the gateway runs as root (stack/up.sh),
  // the gateway's own user otherwise (an unprivileged sshd can only log its own user in).
  HACKSTREAM_NODE_TUNNEL_USER: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a user name such as hackstream-node')
    .default('hackstream-node'),
  HACKSTREAM_NODE_GATEWAY_ADDRESS: z
    .string()
    .regex(/^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$/, 'must be host:port (the address nodes dial to reach the node gateway)')
    .optional(),
  HACKSTREAM_PLACEMENT: z.enum(PLACEMENT_STRATEGIES, { error: `must be one of ${PLACEMENT_STRATEGIES.join(', ')}` }).default('binpack'),
});
/** The environment validated, coerced and defaulted: what the mapping functions below read. */
type ParsedEnv = z.output<typeof envSchema>;

export type Env = Record<string, string | undefined>;

/** Every environment variable the control plane reads (the README documents each one). */
export const ENV_VARIABLES = Object.keys(envSchema.shape);

const rolePolicySchema = (maxSessions: number) =>
  z.strictObject({
    /** Apps this role may start; unset: every app of the catalog. */
    apps: z.array(z.string().min(1)).optional(),
    clipboard: z.boolean().default(true),
    fileTransfer: z.boolean().default(false),
    maxSessions: z.number().int().min(0).default(maxSessions),
    memoryMb: z.number().int().min(256).optional(),
    cpus: z.number().positive().max(64).optional(),
    idleTimeoutSeconds: z.number().int().positive().optional(),
    maxDurationSeconds: z.number().int().positive().optional(),
    /** For persistent profiles. */
    storageMb: z.number().int().min(0).default(1024),
    /** Destinations beyond the public internet its sessions may reach (core/egress-destinations.ts). */
    egress: egressDestinationsSchema.default([]),
    /** Labels every node its sessions are placed on must have (core/node-registry.ts), e.g. {"gpu": "true"}. */
    nodeLabels: z
      .record(z.string().regex(NODE_LABEL_PATTERN, 'is not a label key'), z.string().regex(NODE_LABEL_PATTERN, 'is not a label value'))
      .refine((r) => Object.keys(r).length <= MAX_NODE_LABELS, `at most ${MAX_NODE_LABELS} labels`)
      .default({}),
  });
// Safe defaults: clipboard on, file transfer off, the catalog's apps; two sessions at a time for users.
const rolePoliciesSchema = z.strictObject({
  admin: rolePolicySchema(4).default(rolePolicySchema(4).parse({})),
  user: rolePolicySchema(2).default(rolePolicySchema(2).parse({})),
});
/**
 * What a role's users may do, and how much each may take (the quota defaults a user's own
 * overrides replace field by field). Unset limits fall back to the HACKSTREAM_SESSION_* and
 * timeout settings.
 */
export type RolePolicy = z.output<ReturnType<typeof rolePolicySchema>>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const invalid = (variable: string, message: string) => new ConfigError(`invalid configuration:\n  ${variable}: ${message}`);

function parseEnv(env: Env): ParsedEnv {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** A variable the schema leaves optional but this process needs: its value, or an error naming it. */
function required<K extends keyof ParsedEnv>(e: ParsedEnv, variable: K, message: string): NonNullable<ParsedEnv[K]> {
  const value = e[variable];
  if (!value) throw invalid(variable, message);
  return value;
}

function parseHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  return { host: value.slice(0, i), port: Number(value.slice(i + 1)) };
}

function parsePolicies(json: string | undefined, apps: AppCatalog) {
  let raw: unknown = {};
  if (json) {
    try {
      raw = JSON.parse(json);
    } catch {
      throw invalid('HACKSTREAM_ROLE_POLICIES', 'is not valid JSON');
    }
  }
  const result = rolePoliciesSchema.safeParse(raw);
  if (!result.success) {
    throw invalid('HACKSTREAM_ROLE_POLICIES', result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const catalog = Object.keys(apps);
  const withApps = <P extends { apps?: string[] | undefined }>(role: string, policy: P) => {
    const unknown = (policy.apps ?? []).filter((app) => !catalog.includes(app));
    if (unknown.length > 0) throw invalid('HACKSTREAM_ROLE_POLICIES', `${role}.apps: ${unknown.join(', ')} not in the app catalog (${catalog.join(', ')})`);
    return { ...policy, apps: policy.apps ?? catalog };
  };
  return { admin: withApps('admin', result.data.admin), user: withApps('user', result.data.user) };
}

/** The app catalog: the operator's file (HACKSTREAM_APP_CATALOG) or the one shipped. */
function appCatalog(e: ParsedEnv): AppCatalog {
  try {
    return readAppCatalog(e.HACKSTREAM_APP_CATALOG);
  } catch (err) {
    throw invalid('HACKSTREAM_APP_CATALOG', (err as Error).message);
  }
}

// Each config type below is the inferred return type of the function that maps the parsed
// environment onto it, so every setting is named once: in `envSchema`, and where it is mapped.

export type DatabaseConfig = ReturnType<typeof databaseConfig>;
function databaseConfig(e: ParsedEnv, dataDir: string) {
  if (e.HACKSTREAM_DB_DRIVER === 'postgresql' && !e.HACKSTREAM_DB_URL) {
    throw invalid('HACKSTREAM_DB_URL', 'required when HACKSTREAM_DB_DRIVER=postgresql');
  }
  return {
    driver: e.HACKSTREAM_DB_DRIVER,
    /** SQLite file (driver sqlite). */
    path: path.resolve(dataDir, e.HACKSTREAM_DB_PATH ?? 'hackstream.sqlite'),
    /** Connection URL (driver postgresql). */
    url: e.HACKSTREAM_DB_URL,
  };
}

/**
 * The Redis URL, with the process's own user and password. Production refuses a Redis that
 * takes any local client (the message never repeats the URL: it may hold a password).
 */
function redisUrl(e: ParsedEnv): string {
  if (e.HACKSTREAM_ENV === 'production' && !new URL(e.HACKSTREAM_REDIS_URL).password) {
    throw invalid('HACKSTREAM_REDIS_URL', 'must carry a user and password in production, redis://USER:PASSWORD@HOST:PORT (stack/up.sh generates them into secrets.env)');
  }
  return e.HACKSTREAM_REDIS_URL;
}

/** How the API and the workers reach Temporal's frontend: the address, and TLS when configured. */
export type TemporalConfig = ReturnType<typeof temporalConfig>;
function temporalConfig(e: ParsedEnv, dataDir: string) {
  const cert = e.HACKSTREAM_TEMPORAL_TLS_CERT_FILE;
  const key = e.HACKSTREAM_TEMPORAL_TLS_KEY_FILE;
  if (!cert !== !key) {
    throw invalid(cert ? 'HACKSTREAM_TEMPORAL_TLS_KEY_FILE' : 'HACKSTREAM_TEMPORAL_TLS_CERT_FILE', 'the client certificate and its key go together');
  }
  const file = (f: string | undefined) => (f ? path.resolve(dataDir, f) : undefined);
  const tlsOn = Boolean(e.HACKSTREAM_TEMPORAL_TLS_CA_FILE || cert || e.HACKSTREAM_TEMPORAL_TLS_SERVER_NAME);
  return {
    address: e.HACKSTREAM_TEMPORAL_ADDRESS,
    namespace: e.HACKSTREAM_TEMPORAL_NAMESPACE,
    taskQueue: e.HACKSTREAM_TASK_QUEUE,
    /** Files read at connection time (core/temporal-connection.ts); undefined: plaintext. */
    tls: tlsOn
      ? {
          /** The CA that signed the frontend's certificate (the system's CAs if unset). */
          caFile: file(e.HACKSTREAM_TEMPORAL_TLS_CA_FILE),
          /** This process's client certificate and key, for a frontend that requires them (mTLS). */
          certFile: file(cert),
          keyFile: file(key),
          /** The name the frontend's certificate must carry, when it differs from the address's host. */
          serverName: e.HACKSTREAM_TEMPORAL_TLS_SERVER_NAME,
        }
      : undefined,
  };
}

/** Where clients reach the data plane and how the ingress (Traefik) is wired. */
export type IngressConfig = ReturnType<typeof ingressConfig>;
/** The files of a CA directory (HACKSTREAM_CA_DIR, HACKSTREAM_NODE_CA_DIR, the CA's Secret on a cluster). */
export const CA_FILES = { cert: 'ca.pem', key: 'ca-key.pem' } as const;

function ingressConfig(e: ParsedEnv, dataDir: string) {
  return {
    /** Sessions' native TLS names are `<session id>.sessions.<domain>`. */
    domain: e.HACKSTREAM_DOMAIN,
    /** Host and port clients use for the API and both data-plane paths (Traefik's HTTPS entrypoint). */
    publicHost: e.HACKSTREAM_PUBLIC_HOST,
    publicPort: e.HACKSTREAM_PUBLIC_PORT,
    /** The HackStream CA: its certificate (public) and private key (workers only, mode 600). */
    caCertFile: path.resolve(dataDir, e.HACKSTREAM_CA_DIR ?? 'ca', CA_FILES.cert),
    caKeyFile: path.resolve(dataDir, e.HACKSTREAM_CA_DIR ?? 'ca', CA_FILES.key),
    /** Traefik's file-provider directory: the API's router (the API writes it), the ingress certificate (the workers), one file per session. */
    routesDir: path.resolve(dataDir, e.HACKSTREAM_ROUTES_DIR ?? 'traefik/dynamic'),
    /** The ingress's own certificate and key (issued by the HackStream CA unless provided). */
    tlsDir: path.resolve(dataDir, 'traefik/tls'),
    /** Traefik's HTTPS entrypoint as the workers reach it, to check that new routes are live. */
    ingressAddress: parseHostPort(e.HACKSTREAM_INGRESS_ADDRESS ?? `127.0.0.1:${e.HACKSTREAM_PUBLIC_PORT}`),
    /** Where the API listens, as Traefik reaches it. */
    apiUpstream: `http://${e.HACKSTREAM_API_HOST.includes(':') ? `[${e.HACKSTREAM_API_HOST}]` : e.HACKSTREAM_API_HOST}:${e.HACKSTREAM_API_PORT}`,
  };
}

/** What a new session gets unless a policy says otherwise. */
export type SessionDefaults = ReturnType<typeof sessionDefaults>;
function sessionDefaults(e: ParsedEnv) {
  return {
    memoryMb: e.HACKSTREAM_SESSION_MEMORY_MB,
    cpus: e.HACKSTREAM_SESSION_CPUS,
    shmMb: e.HACKSTREAM_SESSION_SHM_MB,
    pidsLimit: e.HACKSTREAM_SESSION_PIDS_LIMIT,
    idleTimeoutSeconds: e.HACKSTREAM_IDLE_TIMEOUT_SECONDS,
    connectTimeoutSeconds: e.HACKSTREAM_CONNECT_TIMEOUT_SECONDS,
    maxDurationSeconds: e.HACKSTREAM_MAX_SESSION_SECONDS,
    readyTimeoutSeconds: e.HACKSTREAM_READY_TIMEOUT_SECONDS,
    activityPollSeconds: e.HACKSTREAM_ACTIVITY_POLL_SECONDS,
  };
}

/** Pre-warmed containers, kept by the pool-warming schedule. */
export type PoolConfig = ReturnType<typeof poolConfig>;
function poolConfig(e: ParsedEnv, apps: AppCatalog) {
  const pools = e.HACKSTREAM_POOL.map((pool) => {
    const app = apps[pool.app];
    if (!app) throw invalid('HACKSTREAM_POOL', `${pool.app} is not in the app catalog (${Object.keys(apps).join(', ')})`);
    if (!app.warm) throw invalid('HACKSTREAM_POOL', `${pool.app} cannot be kept warm (its catalog entry says warm: false)`);
    return { ...pool, image: app.image };
  });
  return {
    /** One pool per app and quality preset, with its app's image; empty: no pool, every session starts cold. */
    pools,
    intervalSeconds: e.HACKSTREAM_POOL_INTERVAL_SECONDS,
    /** Warm containers older than this are replaced (their certificate ages while they wait). */
    maxAgeSeconds: e.HACKSTREAM_POOL_MAX_AGE_SECONDS,
  };
}

/** What every process has: its environment's kind, its log level, the data directory, the database. */
function processBase(e: ParsedEnv) {
  const dataDir = path.resolve(e.HACKSTREAM_DATA_DIR);
  return { env: e.HACKSTREAM_ENV, logLevel: e.HACKSTREAM_LOG_LEVEL, dataDir, db: databaseConfig(e, dataDir) };
}

/** What the API and the workers share. */
export type CommonConfig = ReturnType<typeof commonConfig>;
function commonConfig(e: ParsedEnv) {
  const base = processBase(e);
  const { dataDir } = base;
  const apps = appCatalog(e);
  return {
    ...base,
    /** The apps sessions may run (core/app-catalog.ts). */
    apps,
    redisUrl: redisUrl(e),
    temporal: temporalConfig(e, dataDir),
    ingress: ingressConfig(e, dataDir),
    /** Derives each session's key for native connect tokens; shared by the API and the workers. */
    sessionTokenSecret: required(e, 'HACKSTREAM_SESSION_TOKEN_SECRET', 'required (at least 32 random characters, the same for the API and the workers)'),
    session: sessionDefaults(e),
    pool: poolConfig(e, apps),
    placement: placementConfig(e),
  };
}

export type WorkerConfig = ReturnType<typeof loadWorkerConfig>;
/**
 * What keeping the HackStream CA in a cluster's Secret reads (worker/ca-store-main.ts, the Helm
 * chart's first hook): the names the CA is constrained to and where the Secret is; no database,
 * Redis or Temporal, so that it can run before anything of the release exists.
 */
export function loadCaStoreConfig(env: Env) {
  const e = parseEnv(env);
  const store = e.HACKSTREAM_KUBE_CA_STORE;
  if (!store) throw invalid('HACKSTREAM_KUBE_CA_STORE', 'required: namespace/name of the Secret that keeps the HackStream CA');
  return {
    env: e.HACKSTREAM_ENV,
    logLevel: e.HACKSTREAM_LOG_LEVEL,
    ingress: { publicHost: e.HACKSTREAM_PUBLIC_HOST, domain: e.HACKSTREAM_DOMAIN },
    store,
    kubeconfigFile: e.KUBECONFIG,
  };
}

export function loadWorkerConfig(env: Env) {
  const e = parseEnv(env);
  const c = commonConfig(e);
  // A cluster's objects carry the stack's name, the task queue, as a label's value.
  if (e.HACKSTREAM_RUNTIME === 'kubernetes' && !isKubeLabelValue(c.temporal.taskQueue)) {
    throw invalid('HACKSTREAM_TASK_QUEUE', 'with HACKSTREAM_RUNTIME=kubernetes, at most 63 characters, beginning and ending with a letter or digit (it labels the cluster\'s objects)');
  }
  return {
    ...c,
    dockerSocket: e.HACKSTREAM_DOCKER_SOCKET,
    /** IPv4 range that sessions' networks get a /28 each from. */
    sessionSubnets: e.HACKSTREAM_SESSION_SUBNETS,
    /** The only host group whose processes may open connections into sessions' networks. */
    ingressGroup: e.HACKSTREAM_INGRESS_GROUP,
    /** A remote ingress's addresses, let into session networks by the host firewall (none when the ingress is local). */
    ingressSources: e.HACKSTREAM_INGRESS_SOURCES,
    /**
     * `all`: polls the control task queue (workflows and every control activity, the schedules)
     * and this node's queue; `node`: this node's queue only (worker/session-worker.ts).
     */
    role: e.HACKSTREAM_WORKER_ROLE,
    /** Per-session files (TLS certificate and key, token key) mounted into the session's container. */
    sessionFilesDir: path.resolve(c.dataDir, e.HACKSTREAM_SESSION_FILES_DIR ?? 'sessions'),
    /** Users' persistent profiles on this node: a file system image each, mounted while in use. */
    profilesDir: path.resolve(c.dataDir, e.HACKSTREAM_PROFILES_DIR ?? 'profiles'),
    /** Whether the Docker engine must map containers' uids to a subordinate range, and whose. */
    userNamespace: { required: e.HACKSTREAM_DOCKER_USERNS === 'required', remapUser: e.HACKSTREAM_DOCKER_USERNS_USER },
    /** Whether session containers let the kernel merge their identical pages with other sessions' (the host's ksmd does it). */
    memoryMerge: e.HACKSTREAM_SESSION_MEMORY_MERGE === 'on',
    reconcile: {
      /** How often the reconciler's schedule looks for what no running workflow owns. */
      intervalSeconds: e.HACKSTREAM_RECONCILE_INTERVAL_SECONDS,
      /**
       * Something with no workflow at all is left alone this long: a create in flight writes its
       * row (and a pool warms its container) before a workflow owns them.
       */
      graceSeconds: e.HACKSTREAM_RECONCILE_GRACE_SECONDS,
    },
    /** The worker's Prometheus metrics on 127.0.0.1 (0: any free port). */
    metricsPort: e.HACKSTREAM_WORKER_METRICS_PORT,
    /** Where the Temporal SDK serves its own metrics (host:port); unset: not served. */
    temporalMetricsAddress: e.HACKSTREAM_TEMPORAL_METRICS_ADDRESS,
    /** Session containers started at once; more wait their turn (activities/start-admission.ts). */
    maxConcurrentStarts: e.HACKSTREAM_MAX_CONCURRENT_STARTS ?? Math.max(2, os.availableParallelism()),
    node: nodeConfig(e),
    runtime: e.HACKSTREAM_RUNTIME,
    kube: kubeConfig(e),
  };
}

/**
 * Where a worker with HACKSTREAM_RUNTIME=kubernetes puts sessions: the namespace its pods,
 * services, secrets, policies, claims and routes go to, the ingress controller's pods (the only
 * ones let into a session), and the node to bind pods to (absent: the scheduler's choice). The
 * cluster's credentials are the usual ones: KUBECONFIG's file, else the pod's service account.
 */
function kubeConfig(e: ParsedEnv) {
  return {
    namespace: e.HACKSTREAM_KUBE_NAMESPACE,
    ingress: { namespace: e.HACKSTREAM_KUBE_INGRESS_NAMESPACE, podLabels: e.HACKSTREAM_KUBE_INGRESS_POD_LABELS },
    nodeName: e.HACKSTREAM_KUBE_NODE_NAME,
    profileStorageClass: e.HACKSTREAM_KUBE_PROFILE_STORAGE_CLASS,
    nodeLostAfterSeconds: e.HACKSTREAM_KUBE_NODE_LOST_AFTER_SECONDS,
    userNamespaces: e.HACKSTREAM_KUBE_USER_NAMESPACES === 'on',
    apiUpstream: e.HACKSTREAM_KUBE_API_UPSTREAM,
    kubeconfigFile: e.KUBECONFIG,
  };
}

/** What sessions may reserve of this host unless told otherwise (a worker's settings, `hackstream-node enroll`). */
export function defaultNodeCapacity(): { memoryMb: number; cpus: number } {
  const hostReserveMb = 1024;
  return { memoryMb: Math.max(256, Math.floor(os.totalmem() / 2 ** 20) - hostReserveMb), cpus: os.availableParallelism() * 4 };
}

/**
 * The session node this worker is (core/node-registry.ts): its name, labels, what sessions may
 * reserve of it, and how often it says it is alive. By default all of the host's memory but what
 * the host itself needs, and CPU four times over (a session's CPU is a ceiling it rarely reaches).
 */
function nodeConfig(e: ParsedEnv) {
  const host = defaultNodeCapacity();
  return {
    id: e.HACKSTREAM_NODE_ID,
    labels: e.HACKSTREAM_NODE_LABELS,
    capacity: {
      memoryMb: e.HACKSTREAM_NODE_MEMORY_MB ?? host.memoryMb,
      cpus: e.HACKSTREAM_NODE_CPUS ?? host.cpus,
      maxSessions: e.HACKSTREAM_NODE_MAX_SESSIONS,
    },
    heartbeatSeconds: e.HACKSTREAM_NODE_HEARTBEAT_SECONDS,
  };
}

/**
 * How sessions are spread over the nodes, and how long a silent node still gets new ones (three
 * heartbeats): the workers place sessions and keep pools by it, the API claims warm containers
 * in the same order.
 */
function placementConfig(e: ParsedEnv) {
  return { strategy: e.HACKSTREAM_PLACEMENT, aliveWithinSeconds: 3 * e.HACKSTREAM_NODE_HEARTBEAT_SECONDS };
}

/**
 * The node CA (separate from the sessions' CA) and the node gateway: enrolled nodes' client
 * certificates, what they dial, and the name the gateway's certificate carries.
 */
export type NodeAuthorityConfig = ReturnType<typeof nodeAuthorityConfig>;
function nodeAuthorityConfig(e: ParsedEnv, dataDir: string) {
  const dir = path.resolve(dataDir, e.HACKSTREAM_NODE_CA_DIR ?? 'node-ca');
  const address = e.HACKSTREAM_NODE_GATEWAY_ADDRESS ?? `${e.HACKSTREAM_PUBLIC_HOST}:${e.HACKSTREAM_NODE_GATEWAY_PORT}`;
  return {
    caCertFile: path.join(dir, CA_FILES.cert),
    caKeyFile: path.join(dir, CA_FILES.key),
    /** Enrolments one source address may send per hour (the route is open to anyone). */
    enrolmentsPerHour: e.HACKSTREAM_NODE_ENROLMENTS_PER_HOUR,
    /** A node's certificate lives this long; the node renews it at half its life. */
    certificateSeconds: e.HACKSTREAM_NODE_CERT_HOURS * 3600,
    domain: e.HACKSTREAM_DOMAIN,
    tunnel: {
      /** The tunnel sshd's host key (core/node-tunnel.ts), beside the node CA. */
      hostKeyFile: path.join(dir, 'tunnel-host-key.pem'),
      /** Where the gateway's tunnel sshd listens on loopback. */
      sshPort: e.HACKSTREAM_NODE_TUNNEL_SSH_PORT,
      /** The account every node's tunnel logs in as. */
      user: e.HACKSTREAM_NODE_TUNNEL_USER,
    },
    gateway: {
      /** Where the gateway listens. */
      listen: { host: e.HACKSTREAM_NODE_GATEWAY_HOST, port: e.HACKSTREAM_NODE_GATEWAY_PORT },
      /** host:port nodes dial (told to them with their certificate). */
      address,
    },
  };
}

/** The node gateway's process: mTLS for nodes in front of Temporal's frontend. */
export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
export function loadGatewayConfig(env: Env) {
  const e = parseEnv(env);
  const base = processBase(e);
  return {
    ...base,
    temporalAddress: parseHostPort(e.HACKSTREAM_TEMPORAL_ADDRESS),
    nodeAuthority: nodeAuthorityConfig(e, base.dataDir),
  };
}

export type LoginLimits = ReturnType<typeof loginLimits>;
function loginLimits(e: ParsedEnv) {
  return {
    maxFailuresPerAccount: e.HACKSTREAM_LOGIN_MAX_FAILURES_PER_ACCOUNT,
    maxFailuresPerAddress: e.HACKSTREAM_LOGIN_MAX_FAILURES_PER_ADDRESS,
    windowSeconds: e.HACKSTREAM_LOGIN_WINDOW_SECONDS,
  };
}

export type SignInConfig = ReturnType<typeof signInConfig>;
/** Who may sign in how: with a local account's password, through the operator's proxy, or both. */
function signInConfig(e: ParsedEnv) {
  const localAccounts = e.HACKSTREAM_LOCAL_ACCOUNTS === 'on';
  if (!localAccounts && e.HACKSTREAM_AUTH_PROXY_SOURCES.length === 0) {
    throw invalid('HACKSTREAM_LOCAL_ACCOUNTS', 'off needs HACKSTREAM_AUTH_PROXY_SOURCES (the sign-in proxy), or nobody could sign in');
  }
  const groupRoles = new Map<string, Role>();
  for (const pair of e.HACKSTREAM_AUTH_PROXY_ROLES) {
    const at = pair.indexOf('=');
    groupRoles.set(pair.slice(0, at), pair.slice(at + 1) as Role);
  }
  return {
    localAccounts,
    /** Null: no proxy sign-in. */
    proxy:
      e.HACKSTREAM_AUTH_PROXY_SOURCES.length === 0
        ? null
        : {
            sources: e.HACKSTREAM_AUTH_PROXY_SOURCES,
            headers: { user: e.HACKSTREAM_AUTH_PROXY_USER_HEADER, email: e.HACKSTREAM_AUTH_PROXY_EMAIL_HEADER, groups: e.HACKSTREAM_AUTH_PROXY_GROUPS_HEADER },
            groupRoles,
            defaultRole: e.HACKSTREAM_AUTH_PROXY_DEFAULT_ROLE === 'none' ? null : e.HACKSTREAM_AUTH_PROXY_DEFAULT_ROLE,
          },
  };
}

export type ApiConfig = ReturnType<typeof loadApiConfig>;
export function loadApiConfig(env: Env) {
  const e = parseEnv(env);
  const jwtSecret = required(e, 'HACKSTREAM_JWT_SECRET', 'required (at least 32 random characters)');
  const secretKey = required(e, 'HACKSTREAM_SECRET_KEY', 'required (at least 32 random characters; encrypts TOTP secrets)');
  const base = commonConfig(e);
  return {
    ...base,
    host: e.HACKSTREAM_API_HOST,
    port: e.HACKSTREAM_API_PORT,
    jwtSecret,
    /** Encrypts secrets stored in the database (TOTP seeds). */
    secretKey,
    accessTokenTtlSeconds: e.HACKSTREAM_ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: e.HACKSTREAM_REFRESH_TOKEN_TTL_SECONDS,
    /** How long after a refresh its spent token may be presented again as a retry of a lost answer (0: never). */
    refreshRetrySeconds: e.HACKSTREAM_REFRESH_RETRY_SECONDS,
    inviteTtlSeconds: e.HACKSTREAM_INVITE_TTL_SECONDS,
    loginLimits: loginLimits(e),
    /** Argon2 hashes one API process runs at once (each ~19 MiB and a core); more wait briefly or get 503. */
    passwordHashConcurrency: e.HACKSTREAM_PASSWORD_HASH_CONCURRENCY,
    admin: { username: e.HACKSTREAM_ADMIN_USERNAME, password: e.HACKSTREAM_ADMIN_PASSWORD },
    createTimeoutSeconds: e.HACKSTREAM_CREATE_TIMEOUT_SECONDS,
    /** Express's `trust proxy`: whose X-Forwarded-For gives the client's address. */
    trustProxy: e.HACKSTREAM_TRUST_PROXY,
    signIn: signInConfig(e),
    connectTokenTtlSeconds: e.HACKSTREAM_CONNECT_TOKEN_TTL_SECONDS,
    resumeTtlSeconds: e.HACKSTREAM_RESUME_TTL_SECONDS,
    policies: parsePolicies(e.HACKSTREAM_ROLE_POLICIES, base.apps),
    /** The client's signed apt repository (client/packaging/build-repo.sh writes it), served at /apt/. */
    aptRepoDir: path.resolve(base.dataDir, e.HACKSTREAM_APT_REPO_DIR ?? 'client-apt/repo'),
    /** The built web dashboard the API serves at /ui/. */
    dashboardDir: e.HACKSTREAM_DASHBOARD_DIR ? path.resolve(e.HACKSTREAM_DASHBOARD_DIR) : path.join(PACKAGE_ROOT, 'dist', 'dashboard'),
    /** Where operators open the Temporal UI: the admin dashboard links each session to its workflow there. */
    temporalUiUrl: e.HACKSTREAM_TEMPORAL_UI_URL?.replace(/\/+$/, '') ?? null,
    nodeAuthority: nodeAuthorityConfig(e, base.dataDir),
  };
}
