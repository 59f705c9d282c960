/**
 * The session's workflow as its watchers see it: what they observe is delivered as signals, and
 * what the session monitor must know of a session first is read with a query.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
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

  appExited(sessionId: string, exit: AppExit): Promise<void> {
    return this.signalUnlessEnded(sessionId, appExitedSignal, exit);
  }

  /** Ends a session whose node went silent. */
  nodeLost(sessionId: string): Promise<void> {
    return this.signalUnlessEnded(sessionId, stopSignal, { reason: 'node_lost', by: null });
  }

  /** Signals the session's workflow; one that has ended meanwhile needs nothing more. */
  private async signalUnlessEnded<Args extends unknown[]>(sessionId: string, signal: SignalDefinition<Args>, ...args: Args): Promise<void> {
    try {
      await this.client.workflow.getHandle(sessionWorkflowId(sessionId)).signal(signal, ...args);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
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
