/**
 * Configuration, parsed once at process start from the environment.
 *
 * Every setting is named here with its variable and default; the process refuses to start on a bad
 * value with a message that names the variable. Parsed config is passed down explicitly: nothing
 * below the entry points reads `process.env`.
 */
import path from 'node:path';
import { z } from 'zod';

const seconds = (def: number) => z.coerce.number().int().positive().default(def);
const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);
const bool = (def: boolean) =>
  z
    .enum(['1', '0', 'true', 'false', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === '1' || v === 'true' || v === 'yes');

/** Environment variable name → schema. Names are the documented interface (see README). */
const envSchema = z.object({
  HACKSTREAM_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HACKSTREAM_LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  HACKSTREAM_DATA_DIR: z.string().min(1).default('.data'),

  HACKSTREAM_DB_DRIVER: z.enum(['sqlite', 'postgresql']).default('sqlite'),
  HACKSTREAM_DB_PATH: z.string().min(1).optional(),
  HACKSTREAM_DB_URL: z.string().url().optional(),

  HACKSTREAM_REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),

  HACKSTREAM_TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  HACKSTREAM_TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  HACKSTREAM_TASK_QUEUE: z.string().min(1).default('hackstream-sessions'),

  HACKSTREAM_DOCKER_SOCKET: z.string().min(1).default('/var/run/docker.sock'),

  HACKSTREAM_API_HOST: z.string().min(1).default('127.0.0.1'),
  HACKSTREAM_API_PORT: port(8080),
  HACKSTREAM_PUBLIC_HOST: z.string().min(1).default('127.0.0.1'),
  HACKSTREAM_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  HACKSTREAM_ACCESS_TOKEN_TTL_SECONDS: seconds(900),
  HACKSTREAM_ADMIN_USERNAME: z.string().min(1).default('admin'),
  HACKSTREAM_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  HACKSTREAM_CREATE_TIMEOUT_SECONDS: seconds(90),
  HACKSTREAM_TRUST_PROXY: bool(false),

  HACKSTREAM_SESSION_IMAGE: z.string().min(1).default('hackstream/session-firefox:latest'),
  HACKSTREAM_SESSION_MEMORY_MB: z.coerce.number().int().min(256).default(1536),
  HACKSTREAM_SESSION_CPUS: z.coerce.number().positive().max(64).default(1),
  HACKSTREAM_SESSION_SHM_MB: z.coerce.number().int().min(64).default(512),
  HACKSTREAM_SESSION_PIDS_LIMIT: z.coerce.number().int().min(64).default(1024),
  HACKSTREAM_IDLE_TIMEOUT_SECONDS: seconds(15 * 60),
  HACKSTREAM_CONNECT_TIMEOUT_SECONDS: seconds(5 * 60),
  HACKSTREAM_MAX_SESSION_SECONDS: seconds(8 * 60 * 60),
  HACKSTREAM_READY_TIMEOUT_SECONDS: seconds(60),
  HACKSTREAM_ACTIVITY_POLL_SECONDS: seconds(5),
});

export type Env = Record<string, string | undefined>;

/** Every environment variable the control plane reads (the README documents each one). */
export const ENV_VARIABLES = Object.keys(envSchema.shape);

export interface DatabaseConfig {
  driver: 'sqlite' | 'postgresql';
  /** SQLite file (driver sqlite). */
  path: string;
  /** Connection URL (driver postgresql). */
  url: string | undefined;
}

/** What a new session gets unless a policy says otherwise. */
export interface SessionDefaults {
  image: string;
  memoryMb: number;
  cpus: number;
  shmMb: number;
  pidsLimit: number;
  idleTimeoutSeconds: number;
  connectTimeoutSeconds: number;
  maxDurationSeconds: number;
  readyTimeoutSeconds: number;
  activityPollSeconds: number;
}

export interface CommonConfig {
  env: 'development' | 'production' | 'test';
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  dataDir: string;
  db: DatabaseConfig;
  redisUrl: string;
  temporal: { address: string; namespace: string; taskQueue: string };
}

export interface WorkerConfig extends CommonConfig {
  dockerSocket: string;
}

export interface ApiConfig extends CommonConfig {
  host: string;
  port: number;
  publicHost: string;
  jwtSecret: string;
  accessTokenTtlSeconds: number;
  admin: { username: string; password: string | undefined };
  createTimeoutSeconds: number;
  trustProxy: boolean;
  session: SessionDefaults;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseEnv(env: Env): z.infer<typeof envSchema> {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

function common(e: z.infer<typeof envSchema>): CommonConfig {
  const dataDir = path.resolve(e.HACKSTREAM_DATA_DIR);
  if (e.HACKSTREAM_DB_DRIVER === 'postgresql' && !e.HACKSTREAM_DB_URL) {
    throw new ConfigError('invalid configuration:\n  HACKSTREAM_DB_URL: required when HACKSTREAM_DB_DRIVER=postgresql');
  }
  return {
    env: e.HACKSTREAM_ENV,
    logLevel: e.HACKSTREAM_LOG_LEVEL,
    dataDir,
    db: {
      driver: e.HACKSTREAM_DB_DRIVER,
      path: path.resolve(dataDir, e.HACKSTREAM_DB_PATH ?? 'hackstream.sqlite'),
      url: e.HACKSTREAM_DB_URL,
    },
    redisUrl: e.HACKSTREAM_REDIS_URL,
    temporal: {
      address: e.HACKSTREAM_TEMPORAL_ADDRESS,
      namespace: e.HACKSTREAM_TEMPORAL_NAMESPACE,
      taskQueue: e.HACKSTREAM_TASK_QUEUE,
    },
  };
}

export function loadWorkerConfig(env: Env): WorkerConfig {
  const e = parseEnv(env);
  return { ...common(e), dockerSocket: e.HACKSTREAM_DOCKER_SOCKET };
}

export function loadApiConfig(env: Env): ApiConfig {
  const e = parseEnv(env);
  if (!e.HACKSTREAM_JWT_SECRET) {
    throw new ConfigError('invalid configuration:\n  HACKSTREAM_JWT_SECRET: required (at least 32 random characters)');
  }
  return {
    ...common(e),
    host: e.HACKSTREAM_API_HOST,
    port: e.HACKSTREAM_API_PORT,
    publicHost: e.HACKSTREAM_PUBLIC_HOST,
    jwtSecret: e.HACKSTREAM_JWT_SECRET,
    accessTokenTtlSeconds: e.HACKSTREAM_ACCESS_TOKEN_TTL_SECONDS,
    admin: { username: e.HACKSTREAM_ADMIN_USERNAME, password: e.HACKSTREAM_ADMIN_PASSWORD },
    createTimeoutSeconds: e.HACKSTREAM_CREATE_TIMEOUT_SECONDS,
    trustProxy: e.HACKSTREAM_TRUST_PROXY,
    session: {
      image: e.HACKSTREAM_SESSION_IMAGE,
      memoryMb: e.HACKSTREAM_SESSION_MEMORY_MB,
      cpus: e.HACKSTREAM_SESSION_CPUS,
      shmMb: e.HACKSTREAM_SESSION_SHM_MB,
      pidsLimit: e.HACKSTREAM_SESSION_PIDS_LIMIT,
      idleTimeoutSeconds: e.HACKSTREAM_IDLE_TIMEOUT_SECONDS,
      connectTimeoutSeconds: e.HACKSTREAM_CONNECT_TIMEOUT_SECONDS,
      maxDurationSeconds: e.HACKSTREAM_MAX_SESSION_SECONDS,
      readyTimeoutSeconds: e.HACKSTREAM_READY_TIMEOUT_SECONDS,
      activityPollSeconds: e.HACKSTREAM_ACTIVITY_POLL_SECONDS,
    },
  };
}
