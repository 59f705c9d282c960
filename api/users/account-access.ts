/**
 * Starts the durable half of an account change that ends live access (workflows/account-access-workflow.ts):
 * before the API commits the change, so that with Temporal unreachable the request fails with
 * nothing changed; after the commit the workflow is certain to revoke the account's session
 * credentials, make its containers refuse earlier native tokens and, on disable, stop them.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { AccountAccessWorkflow } from '../../workflows/account-access-workflow.js';
import { accountAccessWorkflowId, type AccountAccessChange, type AccountAccessResult } from '../../workflows/messages.js';
import { HttpError } from '../http-error.js';

/** How long a request waits for the change to reach the sessions before it answers anyway. */
const SETTLE_MS = 10_000;
/** How long a start may take before Temporal counts as unreachable. */
const START_TIMEOUT_MS = 5_000;

export interface PendingAccountChange {
  /** The change's effect on the sessions once applied; null if it takes longer than the request waits (it still follows). */
  settled(): Promise<AccountAccessResult | null>;
}

export class AccountAccess {
  constructor(
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  async begin(change: AccountAccessChange): Promise<PendingAccountChange> {
    let handle: WorkflowHandle<typeof AccountAccessWorkflow>;
    try {
      handle = await this.temporal.withAbortSignal(AbortSignal.timeout(START_TIMEOUT_MS), () =>
        this.temporal.workflow.start<typeof AccountAccessWorkflow>('AccountAccessWorkflow', {
          workflowId: accountAccessWorkflowId(change.userId, change.tokenVersion, randomUUID()),
          taskQueue: this.taskQueue,
          args: [change],
        }),
      );
    } catch {
      throw new HttpError(503, 'temporal_unavailable', 'the workflow service is unreachable: nothing was changed; try again', { 'Retry-After': '5' });
    }
    return {
      settled: async () => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), SETTLE_MS)));
        try {
          return await Promise.race([handle.result(), timeout]);
        } catch {
          return null; // followed up by the workflow's retries, not by this request
        } finally {
          clearTimeout(timer);
        }
      },
    };
  }
}
