/**
 * AccountAccessWorkflow on Temporal's time-skipping test server, with fake activities: it waits
 * for the API's commit before touching anything, gives up on a change that never commits, and
 * carries a committed one to every live session, each on its own (one whose files cannot be
 * written neither holds up the others nor is retried forever), dated by when it saw the commit. Stopping real sessions on disable is shown
 * end to end in test/security/account-change-sessions.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { accountAccessActivities } from '../../activities/account-access-activities.js';
import { SessionFilesNotWritableError } from '../../activities/errors.js';
import type { AccountState } from '../../core/account-states.js';
import { createLogger } from '../../core/logger.js';
import { installTemporalRuntime } from '../../worker/temporal-runtime.js';
import type { AccountAccessWorkflow } from '../../workflows/account-access-workflow.js';
import { accountAccessWorkflowId, type AccountAccessChange } from '../../workflows/messages.js';
import { historyRecorder } from '../support/history-recorder.js';
import { temporalTestServer, workflowsEntry } from '../support/paths.js';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  installTemporalRuntime(createLogger({ level: 'error', service: 'workflow-test', json: false }));
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: temporalTestServer() } } });
});
/** HACKSTREAM_RECORD_HISTORIES=<dir>: the tests' histories become replay fixtures there. */
const recorder = historyRecorder();

afterAll(async () => {
  await recorder.write(env);
  await env?.teardown();
});

/** A database whose account row the test changes, and what the activities were asked to do. */
interface Fakes {
  account: AccountState | null;
  reads: number;
  ended: Array<{ sessionId: string; refuseNativeIssuedUntil: number }>;
  attempts: Record<string, number>;
  activities: ReturnType<typeof accountAccessActivities>;
}

/** The clock the fake database reads by: read n is at READ_CLOCK + n. */
const READ_CLOCK = 1_900_000_000_000;

function fakes(initial: AccountState | null, live: string[], unwritable: string[] = []): Fakes {
  const f: Fakes = {
    account: initial,
    reads: 0,
    ended: [],
    attempts: {},
    activities: {
      async accountState() {
        f.reads++;
        return f.account && { ...f.account, readAt: READ_CLOCK + f.reads };
      },
      async liveSessionsOf() {
        return live;
      },
      async endSessionAccess(input: { sessionId: string; refuseNativeIssuedUntil: number }) {
        f.attempts[input.sessionId] = (f.attempts[input.sessionId] ?? 0) + 1;
        if (unwritable.includes(input.sessionId)) throw new SessionFilesNotWritableError('EACCES');
        f.ended.push(input);
        return true;
      },
    },
  };
  return f;
}

async function run(f: Fakes, change: AccountAccessChange, meanwhile?: () => Promise<void>) {
  const taskQueue = `wf-test-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath: workflowsEntry, activities: f.activities });
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start<typeof AccountAccessWorkflow>('AccountAccessWorkflow', {
      taskQueue,
      workflowId: accountAccessWorkflowId(change.userId, change.tokenVersion, randomUUID()),
      args: [change],
    });
    recorder.remember('account-access', handle);
    await meanwhile?.();
    return handle.result();
  });
}

const change = (overrides: Partial<AccountAccessChange> = {}): AccountAccessChange => ({
  userId: randomUUID(),
  tokenVersion: 3,
  stopSessions: false,
  by: 'admin-1',
  ...overrides,
});

describe('AccountAccessWorkflow', () => {
  it('waits until the change is committed, then ends the access of every live session', async () => {
    const f = fakes({ tokenVersion: 2, disabled: false }, ['s-1', 's-2']);
    const result = await run(f, change(), async () => {
      // The API commits a little after it started the workflow: here once the workflow has read
      // the account without the change (a fixed delay would race a slow worker's first read).
      for (let waited = 0; f.reads === 0; waited += 20) {
        if (waited > 30_000) throw new Error('the workflow never read the account');
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(f.ended).toEqual([]);
      f.account = { tokenVersion: 3, disabled: false };
    });
    expect(result).toEqual({ applied: true, sessions: 2, stopped: 0 });
    expect(f.reads).toBeGreaterThan(1);
    // The bound is the read that first saw the commit.
    const bound = READ_CLOCK + f.reads;
    expect(f.ended.sort((a, b) => a.sessionId.localeCompare(b.sessionId))).toEqual([
      { sessionId: 's-1', refuseNativeIssuedUntil: bound },
      { sessionId: 's-2', refuseNativeIssuedUntil: bound },
    ]);
  });

  it('reaches every other session when one cannot be written, and does not retry that one', async () => {
    const f = fakes({ tokenVersion: 3, disabled: false }, ['s-1', 's-bad', 's-3'], ['s-bad']);
    expect(await run(f, change())).toEqual({ applied: true, sessions: 3, stopped: 0 });
    expect(f.ended.map((e) => e.sessionId).sort()).toEqual(['s-1', 's-3']);
    expect(f.attempts['s-bad']).toBe(1);
  });

  it('does nothing for a change that never reaches the database (the request failed after starting it)', async () => {
    const f = fakes({ tokenVersion: 2, disabled: false }, ['s-1']);
    expect(await run(f, change({ stopSessions: true }))).toEqual({ applied: false, sessions: 0, stopped: 0 });
    expect(f.ended).toEqual([]);
  });

  it('applies a disable whose sessions ended meanwhile (their workflows are gone) without failing', async () => {
    const f = fakes({ tokenVersion: 5, disabled: true }, [`gone-${randomUUID()}`]);
    expect(await run(f, change({ stopSessions: true }))).toEqual({ applied: true, sessions: 1, stopped: 0 });
    expect(f.ended).toHaveLength(1);
  });
});
