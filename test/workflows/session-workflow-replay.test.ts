/**
 * Sessions outlive deployments: a worker running new workflow code must replay the histories
 * that earlier versions recorded, or those sessions stop making progress. Each file in
 * histories/ is a real history recorded by an earlier version of SessionWorkflow or
 * PoolWarmerWorkflow (named after what it exercises: stop, idle, connect timeout, maximum
 * duration, app exit, cancellation, warm claim and its fallback, failed provisioning, continue
 * as new, a pool run); replaying it with today's code must not hit a determinism error. They are
 * recorded by test/workflows/session-workflow.test.ts (HACKSTREAM_RECORD_HISTORIES=<dir>); a
 * workflow change that cannot replay them needs `patched()` (ARCHITECTURE.md).
 */
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../worker/workflow-bundle.js';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { installTemporalRuntime } from '../../worker/temporal-runtime.js';
import { workflowsEntry } from '../support/paths.js';

const readHistory = (file: string) =>
  // Stored as protobufjs writes a message's JSON (toJSON), read back with its inverse.
  temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>);

const dir = path.join(import.meta.dirname, 'histories');
const histories = readdirSync(dir).filter((f) => f.endsWith('.json'));

let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  // Errors only: every replay would otherwise log its worker's start and stop.
  const logger = createLogger({ level: 'error', service: 'replay-test', json: false });
  installTemporalRuntime(logger);
  // One bundle for every replay, as a worker has.
  bundle = await bundleWorkflowCode({ workflowsPath: workflowsEntry, workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m) => logger.error(m) } });
}, 120_000);

describe('SessionWorkflow replays the histories of earlier versions', () => {
  it('has recorded histories to replay', () => {
    expect(histories.length).toBeGreaterThan(0);
  });

  it.each(histories)('%s', async (file) => {
    await Worker.runReplayHistory({ workflowBundle: bundle, replayName: file }, readHistory(file));
  });

  it('fails a change that running sessions could not replay (a timer before anything else)', async () => {
    const file = histories.find((f) => f.startsWith('session-stops-on-request'))!;
    expect(file).toBeDefined();
    await expect(
      Worker.runReplayHistory({ workflowsPath: path.join(import.meta.dirname, 'changed', 'session-workflow-with-extra-timer.ts'), replayName: file }, readHistory(file)),
    ).rejects.toThrow(/nondetermin/i);
  });
});
