/**
 * Starts the real API in-process against the test stack, with per-test settings. Its routes
 * directory is the stack's (both derive it from HACKSTREAM_DATA_DIR), where the API writes its
 * router and the ForwardAuth middleware at start, as it does in production.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { expect, inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { loadApiConfig, type ApiConfig } from '../../core/config.js';
import { sessionWebHost } from '../../core/ingress-names.js';
import { createLogger } from '../../core/logger.js';
import { startApi, type RunningApi } from '../../api/server.js';
import { UserDirectory } from '../../api/users/user-directory.js';
import type { Role } from '../../core/roles.js';
import { contractViolation } from './api-contract.js';
import { httpsRequest } from './https-client.js';
import type { StackInfo } from './test-stack.js';
import { until } from './until.js';

export interface ApiUnderTest {
  api: RunningApi;
  config: ApiConfig;
  temporal: Client;
  /** Creates a user and returns its id and a fresh access token. */
  newUser(role?: Role): Promise<{ id: string; username: string; password: string; token: string }>;
  /** Starts a Firefox session of the token's user, expecting 201; returns the created session. */
  startSession(token: string): Promise<any>;
  /**
   * Stops a session and waits until it has ended: 200 once the teardown is done within the API's
   * brief wait, 202 while it goes on (a loaded host); either way the session is stopped on return.
   */
  stopAndWait(token: string, sessionId: string): Promise<void>;
  /** Waits until the session is in `state` (GET /v1/sessions/:id, every 250 ms). */
  untilSessionState(token: string, sessionId: string, state: string, timeoutMs: number): Promise<void>;
  /** A fresh one-time link of the session's HTML5 client (POST /v1/sessions/:id/connect). */
  freshBrowserUrl(token: string, sessionId: string): Promise<string>;
  /** Logs in (no second factor) and returns the access token; throws unless it succeeds. */
  login(username: string, password: string): Promise<string>;
  /** The API through the ingress (HTTPS, CA-verified), JSON in and out. */
  call(
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Record<string, string | string[] | undefined> }>;
  /** https://localhost:<ingress port> */
  origin: string;
  /** A session's own browser origin: https://<id>.web.sessions.<domain>:<ingress port> */
  sessionOrigin(sessionId: string): string;
  close(): Promise<void>;
}

/** Traefik picks up the API's file a moment after it is written: the first API of a run waits. */
async function untilIngressServes(url: string, caFile: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await httpsRequest(url, { caFile }).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`the ingress did not route ${url} to the API within ${timeoutMs} ms (last status ${status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** In a test file: against the stack the global setup started. */
export function startApiUnderTest(env: Record<string, string> = {}): Promise<ApiUnderTest> {
  return startApiOn(inject('stack'), env);
}

export async function startApiOn(stack: StackInfo, env: Record<string, string> = {}): Promise<ApiUnderTest> {
  const config = loadApiConfig({
    ...stack.env,
    HACKSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
    HACKSTREAM_SECRET_KEY: randomBytes(32).toString('hex'),
    HACKSTREAM_ADMIN_PASSWORD: randomBytes(16).toString('hex'),
    HACKSTREAM_ADMIN_USERNAME: 'admin',
    ...env,
  });
  const logger = createLogger({ level: 'warn', service: 'api-test', json: false });
  const api = await startApi(config, logger);
  const origin = `https://localhost:${stack.ingressPort}`;
  await untilIngressServes(`${origin}/health`, stack.caFile).catch(async (err: unknown) => {
    await api.close();
    throw err;
  });
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const users = new UserDirectory(api.db);

  const call: ApiUnderTest['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
    let body: string | undefined = opts.rawBody;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await httpsRequest(origin + path, { caFile: stack.caFile, method, headers, body });
    let parsed: unknown = res.text;
    try {
      parsed = res.text ? JSON.parse(res.text) : null;
    } catch {
      /* not JSON: keep the text so a test can show it */
    }
    const violation = contractViolation(method, path, res.status, res.headers, parsed);
    if (violation) throw new Error(`API contract broken: ${violation}`);
    return { status: res.status, body: parsed, headers: res.headers };
  };

  const login: ApiUnderTest['login'] = async (username, password) => {
    const res = await call('POST', '/v1/login', { body: { username, password } });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
    return String(res.body.access_token);
  };

  const untilSessionState: ApiUnderTest['untilSessionState'] = async (token, sessionId, state, timeoutMs) => {
    await until(`session ${sessionId} ${state}`, async () => ((await call('GET', `/v1/sessions/${sessionId}`, { token })).body.state === state ? true : null), timeoutMs, 250);
  };

  return {
    api,
    config,
    temporal,
    call,
    origin,
    sessionOrigin: (sessionId) => `https://${sessionWebHost(sessionId, config.ingress.domain)}:${config.ingress.publicPort}`,
    login,
    async newUser(role: Role = 'user') {
      const username = `u-${randomUUID().slice(0, 8)}`;
      const password = randomBytes(12).toString('hex');
      const user = await users.create(username, password, role);
      return { id: user.id, username, password, token: await login(username, password) };
    },
    async startSession(token: string) {
      const created = await call('POST', '/v1/sessions', { token, body: { app: 'firefox' } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return created.body;
    },
    async stopAndWait(token: string, sessionId: string) {
      const res = await call('POST', `/v1/sessions/${sessionId}/stop`, { token });
      expect([200, 202], JSON.stringify(res.body)).toContain(res.status);
      await untilSessionState(token, sessionId, 'stopped', 120_000);
    },
    untilSessionState,
    async freshBrowserUrl(token: string, sessionId: string) {
      return String((await call('POST', `/v1/sessions/${sessionId}/connect`, { token })).body.connect.browser.url);
    },
    async close() {
      await connection.close();
      await api.close();
    },
  };
}
