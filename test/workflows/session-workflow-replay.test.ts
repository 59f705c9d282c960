/**
 * Sessions outlive deployments: a worker running new workflow code must replay the histories
 * that earlier versions recorded, or those sessions stop making progress. Each file in
 * histories/ is a real history recorded by an earlier version of SessionWorkflow (named after
 * what it exercises); replaying it with today's code must not hit a determinism error.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowsEntry } from '../support/paths.js';

const dir = path.join(import.meta.dirname, 'histories');
const histories = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('SessionWorkflow replays the histories of earlier versions', () => {
  it('has recorded histories to replay', () => {
    expect(histories.length).toBeGreaterThan(0);
  });

  it.each(histories)('%s', async (file) => {
    // Stored as protobufjs writes a message's JSON (toJSON), read back with its inverse.
    const history = temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>);
    await Worker.runReplayHistory({ workflowsPath: workflowsEntry, replayName: file }, history);
  });
});
