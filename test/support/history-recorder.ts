/**
 * Replay fixtures from the workflow tests: with HACKSTREAM_RECORD_HISTORIES=<dir>, each
 * workflow a test starts is remembered under the test's name, and its history is written there
 * as JSON (protobufjs's toJSON, which test/workflows/session-workflow-replay.test.ts reads back)
 * when the file ends. The first run of a workflow that continued as new is the one kept: its
 * history ends with the hand-over. Without the variable, nothing is kept or written.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { expect } from 'vitest';

export function historyRecorder(dir = process.env['HACKSTREAM_RECORD_HISTORIES']) {
  const started: Array<{ file: string; workflowId: string; runId: string }> = [];
  return {
    /** Keeps `<kind>-<the current test's name>.json` for this workflow. */
    remember(kind: string, handle: { workflowId: string; firstExecutionRunId: string }): void {
      if (!dir) return;
      const test = (expect.getState().currentTestName ?? 'unnamed').split(' > ').pop()!;
      const slug = test.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
      started.push({ file: `${kind}-${slug}.json`, workflowId: handle.workflowId, runId: handle.firstExecutionRunId });
    },
    /** Writes the remembered histories (call before the environment is torn down). */
    async write(env: TestWorkflowEnvironment | undefined): Promise<void> {
      if (!dir || !env) return;
      mkdirSync(dir, { recursive: true });
      for (const { file, workflowId, runId } of started) {
        const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
        writeFileSync(path.join(dir, file), `${JSON.stringify(temporal.api.history.v1.History.fromObject(history).toJSON(), null, 1)}\n`);
      }
    },
  };
}
