/**
 * Stopping the control plane's processes gracefully, against the real stack: an API that is
 * asked to stop (what its SIGTERM handler does) still answers the requests in flight; a worker
 * that stops (the SDK's SIGTERM handling) and a new one on the same queue take over without ending
 * the sessions, and the new worker's session monitor watches them from its first pass.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadWorkerConfig, type WorkerConfig } from '../../core/config.js';
import { openDatabase, type Database } from '../../core/db/orm.js';
import { createLogger } from '../../core/logger.js';
import { SessionRows } from '../../core/session-rows.js';
import { createSessionWorker, type SessionWorker } from '../../worker/session-worker.js';
import { installTemporalRuntime } from '../../worker/temporal-runtime.js';
import { sessionWorkflowId, stopSignal } from '../../workflows/messages.js';
import { startApiOn } from '../support/api-under-test.js';
import { docker, sessionContainers } from '../support/docker.js';
import { workflowsEntry } from '../support/paths.js';

const stack = inject('stack');
const taskQueue = `hs-shutdown-${process.pid}`;
const env = { ...stack.env, HACKSTREAM_TASK_QUEUE: taskQueue, HACKSTREAM_ACTIVITY_POLL_SECONDS: '1' };
const logger = createLogger({ level: 'error', service: 'shutdown-worker', json: false });

let config: WorkerConfig;
let db: Database;
let worker: SessionWorker | undefined;

async function startWorker(): Promise<SessionWorker> {
  const w = await createSessionWorker({ config, logger, db, workflows: { workflowsPath: workflowsEntry } });
  void w.run();
  return w;
}

beforeAll(async () => {
  installTemporalRuntime(logger);
  config = loadWorkerConfig(env);
  db = await openDatabase(config.db);
});

afterAll(async () => {
  await worker?.close();
  await db?.close();
});

describe('graceful shutdown', () => {
  it('an API asked to stop finishes the create in flight, then takes no more requests', async () => {
    worker = await startWorker();
    const t = await startApiOn(stack, env);
    try {
      const user = await t.newUser();
      const inFlight = t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
      await new Promise((r) => setTimeout(r, 500));
      const closed = t.api.close();
      const created = await inFlight;
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await closed;
      await expect(fetch(`${t.api.url}/health`)).rejects.toThrow();
      await t.temporal.workflow.getHandle(sessionWorkflowId(created.body.session_id)).signal(stopSignal, { reason: 'admin_stop', by: 'test' });
    } finally {
      await t.close();
    }
  });

  it('a worker that stops leaves its sessions running; the next worker of the queue watches them again', async () => {
    worker ??= await startWorker();
    const t = await startApiOn(stack, env);
    try {
      const user = await t.newUser();
      const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const id: string = created.body.session_id;
      const rows = new SessionRows(db);

      await worker.close();
      worker = undefined;
      await new Promise((r) => setTimeout(r, 3000));
      expect((await rows.find(id))?.state).toBe('ready');
      expect(await sessionContainers(id)).toHaveLength(1);

      worker = await startWorker();
      // The new worker's session monitor is what notices the app is gone: the container stops, the session ends.
      await new Promise((r) => setTimeout(r, 3000));
      expect((await rows.find(id))?.state).toBe('ready');
      const [container] = await sessionContainers(id);
      await docker.getContainer(container!.Id).kill();
      const deadline = Date.now() + 90_000;
      let state: string | undefined;
      while (Date.now() < deadline && !['stopped', 'failed'].includes(state ?? '')) {
        await new Promise((r) => setTimeout(r, 500));
        state = (await rows.find(id))?.state;
      }
      expect(await rows.find(id)).toMatchObject({ state: 'stopped', reason: 'app_exited' });
      expect(await sessionContainers(id)).toHaveLength(0);
    } finally {
      await t.close();
    }
  });
});
