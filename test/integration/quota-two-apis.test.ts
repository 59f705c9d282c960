/**
 * The session quota with two API processes (real `node` processes, as an operator scales the API
 * out) against the real stack: concurrent creates of one user, spread over both, never start more
 * sessions than the user's limit (the lock is in Redis, shared; its lease is renewed while held).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { UserDirectory } from '../../api/users/user-directory.js';
import { loadApiConfig } from '../../core/config.js';
import { openDatabase, type Database } from '../../core/db/orm.js';
import { sessionWorkflowId, stopSignal } from '../../workflows/messages.js';
import { Client, Connection } from '@temporalio/client';
import { spawnApi, type ControlPlaneProcess } from '../support/control-plane-process.js';
import { freePort } from '../support/ports.js';

const stack = inject('stack');
const MAX_SESSIONS = 2;
const env: Record<string, string> = {
  ...stack.env,
  HACKSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
  HACKSTREAM_SECRET_KEY: randomBytes(32).toString('hex'),
  HACKSTREAM_ADMIN_PASSWORD: randomBytes(16).toString('hex'),
  HACKSTREAM_LOG_LEVEL: 'warn',
  HACKSTREAM_ROLE_POLICIES: JSON.stringify({ user: { maxSessions: MAX_SESSIONS } }),
};

const apis: Array<ControlPlaneProcess & { url: string }> = [];
let db: Database;
let temporal: Client;

async function startApiProcess(): Promise<ControlPlaneProcess & { url: string }> {
  return spawnApi(env, await freePort());
}

beforeAll(async () => {
  db = await openDatabase(loadApiConfig(env).db);
  apis.push(await startApiProcess(), await startApiProcess());
  temporal = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
});

afterAll(async () => {
  for (const api of apis) await api.stop();
  await temporal?.connection.close();
  await db?.close();
});

const post = async (url: string, path: string, body: unknown, token?: string) => {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
};

describe('the session quota across two API processes', () => {
  it(`starts at most ${MAX_SESSIONS} of 8 concurrent creates of one user sent to both`, async () => {
    const username = `u-${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await new UserDirectory(db).create(username, password, 'user');
    const login = await post(apis[0]!.url, '/v1/login', { username, password });
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    const token = String(login.body.access_token);

    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => post(apis[i % 2]!.url, '/v1/sessions', { app: 'firefox' }, token)));
    try {
      const statuses = results.map((r) => r.status).sort();
      expect(statuses, JSON.stringify(results.map((r) => r.body))).toEqual([...Array(MAX_SESSIONS).fill(201), ...Array(8 - MAX_SESSIONS).fill(429)]);
      for (const r of results.filter((r) => r.status === 429)) expect(r.body.error.code).toBe('quota_exceeded');
    } finally {
      for (const r of results.filter((r) => r.status === 201)) {
        await temporal.workflow.getHandle(sessionWorkflowId(String(r.body.session_id))).signal(stopSignal, { reason: 'admin_stop', by: 'test' });
      }
    }
  });
});
