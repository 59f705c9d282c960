/**
 * An admin's deletion of a user's persistent profile (api/profiles/profile-admin.ts): its volume
 * on the node that holds it, then its row. Its own workflow because the volume is on a node's
 * host, reached only through the node's task queue; the API holds the user's quota lock
 * meanwhile, so no persistent session of that user starts in between.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { nodeTaskQueue, PERMANENT_ERROR_TYPES, type ProfileDeletionInput, type ProfileDeletionResult } from './messages.js';

type Activities = ReturnType<typeof createActivities>;

/** How long the node may take to answer: a node that does not poll fails the deletion, which the admin retries. */
export const PROFILE_DELETION_NODE_DEADLINE = '30 seconds';

export async function ProfileDeletionWorkflow(input: ProfileDeletionInput): Promise<ProfileDeletionResult> {
  const onNode = proxyActivities<Activities>({
    taskQueue: nodeTaskQueue(workflowInfo().taskQueue, input.node),
    startToCloseTimeout: '20 seconds',
    scheduleToCloseTimeout: PROFILE_DELETION_NODE_DEADLINE,
    // In use on the node (a session the control plane no longer knows of): the admin's answer, not a retry.
    retry: { initialInterval: '1s', maximumInterval: '5s', nonRetryableErrorTypes: [...PERMANENT_ERROR_TYPES, 'ProfileInUseError'] },
  });
  const control = proxyActivities<Activities>({ startToCloseTimeout: '20 seconds', retry: { initialInterval: '1s', maximumAttempts: 5 } });
  const { deleted } = await onNode.deleteProfileVolume({ userId: input.userId, app: input.app });
  await control.forgetProfile({ userId: input.userId, app: input.app });
  return { volumeDeleted: deleted };
}
