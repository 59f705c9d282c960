/** Whether a session's workflow still runs, asked of Temporal (the reconciler's question). */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { sessionWorkflowId } from '../workflows/messages.js';

/**
 * - `running`: the workflow owns the session and will tear it down itself;
 * - `closed`: it ended (`detail`: how: COMPLETED, TERMINATED, ...), so it tears nothing down any more;
 * - `missing`: Temporal has no such workflow (not started yet, or Temporal lost it).
 */
export type WorkflowStatus = { status: 'running' } | { status: 'closed'; detail: string } | { status: 'missing' };

export interface SessionWorkflowStatus {
  of(sessionId: string): Promise<WorkflowStatus>;
}

export class TemporalSessionWorkflowStatus implements SessionWorkflowStatus {
  constructor(private readonly client: Client) {}

  async of(sessionId: string): Promise<WorkflowStatus> {
    try {
      // The latest run: a session that continued as new is running.
      const described = await this.client.workflow.getHandle(sessionWorkflowId(sessionId)).describe();
      return described.status.name === 'RUNNING' ? { status: 'running' } : { status: 'closed', detail: described.status.name };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { status: 'missing' };
      throw err;
    }
  }
}
