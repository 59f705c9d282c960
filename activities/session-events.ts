/** Delivers what the session watcher observes to the session's workflow, as signals. */
import type { Client } from '@temporalio/client';
import {
  activityHeartbeatSignal,
  clientAttachedSignal,
  sessionWorkflowId,
  type ClientActivity,
} from '../workflows/messages.js';
import type { SessionEvents } from './session-watcher.js';

export class TemporalSessionEvents implements SessionEvents {
  constructor(private readonly client: Client) {}

  async clientAttached(sessionId: string, activity: ClientActivity): Promise<void> {
    await this.client.workflow.getHandle(sessionWorkflowId(sessionId)).signal(clientAttachedSignal, activity);
  }

  async activityHeartbeat(sessionId: string, activity: ClientActivity): Promise<void> {
    await this.client.workflow.getHandle(sessionWorkflowId(sessionId)).signal(activityHeartbeatSignal, activity);
  }
}
