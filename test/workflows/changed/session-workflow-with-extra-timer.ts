/**
 * A workflow bundle with a deliberately incompatible SessionWorkflow: it starts a timer before
 * anything else, a command no recorded history has. Replaying a recorded history against it must
 * fail (test/workflows/session-workflow-replay.test.ts): the proof that the replay test catches
 * a change that would break running sessions.
 */
import { sleep } from '@temporalio/workflow';
import { SessionWorkflow as current } from '../../../workflows/session-workflow.js';

export async function SessionWorkflow(...args: Parameters<typeof current>): ReturnType<typeof current> {
  await sleep(1);
  return current(...args);
}
