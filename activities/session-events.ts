/**
 * The session's workflow as its watchers see it: what they observe is delivered as signals, and
 * what the session monitor must know of a session first is read with a query.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  activityHeartbeatSignal,
  appExitedSignal,
  clientAttachedSignal,
  sessionWatchQuery,
  sessionWorkflowId,
  stopSignal,
  type AppExit,
  type ClientActivity,
  type SessionWatch,
} from '../workflows/messages.js';
import type { SessionEvents } from './session-watcher.js';

/** A query waits for a worker to answer it; the monitor's pass must not wait longer than this. */
const QUERY_DEADLINE_MS = 5_000;

export class TemporalSessionEvents implements SessionEvents {
  constructor(private readonly client: Client) {}

  async clientAttached(sessionId: string, activity: ClientActivity): Promise<void> {
    await this.client.workflow.getHandle(sessionWorkflowId(sessionId)).signal(clientAttachedSignal, activity);
  }

  async activityHeartbeat(sessionId: string, activity: ClientActivity): Promise<void> {
    await this.client.workflow.getHandle(sessionWorkflowId(sessionId)).signal(activityHeartbeatSignal, activity);
  }

  async appExited(sessionId: string, exit: AppExit): Promise<void> {
    try {
      await this.client.workflow.getHandle(sessionWorkflowId(sessionId)).signal(appExitedSignal, exit);
    } catch (err) {
      // Ended meanwhile: nothing left to tell.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }

  /** Ends a session whose node went silent (a session that has ended meanwhile needs nothing). */
  async nodeLost(sessionId: string, node: string): Promise<void> {
    try {
      await this.client.workflow.getHandle(sessionWorkflowId(sessionId)).signal(stopSignal, { reason: 'node_lost', by: null });
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw new Error(`could not end session ${sessionId} of lost node ${node}: ${String(err)}`, { cause: err });
    }
  }

  /** What the session's workflow says about watching it; null when it has ended. */
  async watchInfo(sessionId: string): Promise<SessionWatch | null> {
    const handle = this.client.workflow.getHandle(sessionWorkflowId(sessionId));
    try {
      return await this.client.connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(sessionWatchQuery));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }
}
