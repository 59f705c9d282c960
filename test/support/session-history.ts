/** What a session's workflow history says, for tests that check what an activity answered. */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { RemovedSession } from '../../activities/session-removal.js';
import { sessionWorkflowId } from '../../workflows/messages.js';

/** How the app ended at the session's removal: the removeSession activity's answer. */
export async function appQuitOf(temporal: Client, sessionId: string): Promise<RemovedSession['appQuit']> {
  const events = (await temporal.workflow.getHandle(sessionWorkflowId(sessionId)).fetchHistory()).events ?? [];
  const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'removeSession').map((e) => String(e.eventId)));
  const completed = events.find((e) => scheduled.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)));
  const payload = completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
  if (!payload) throw new Error(`session ${sessionId}: no completed removeSession in its workflow's history`);
  return defaultPayloadConverter.fromPayload<RemovedSession>(payload).appQuit;
}
