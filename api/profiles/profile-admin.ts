/**
 * Admins and users' persistent profiles: where each lives and what it uses, and its deletion
 * (audited). The volume is on the node that holds it, reached through Temporal
 * (workflows/profile-deletion-workflow.ts); the user's quota lock is held meanwhile, so that no
 * persistent session of theirs starts in between and mounts the profile being deleted.
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import type { AuditLog } from '../../core/audit-log.js';
import type { App } from '../../core/catalog.js';
import type { ProfileRows } from '../../core/profile-rows.js';
import type { SessionRows } from '../../core/session-rows.js';
import { profileDeletionWorkflowId } from '../../workflows/messages.js';
import type { ProfileDeletionWorkflow } from '../../workflows/profile-deletion-workflow.js';
import { HttpError, notFound } from '../http-error.js';
import type { QuotaService } from '../quotas/quota-service.js';
import type { AuthenticatedUser } from '../request-context.js';

export interface ProfileView {
  app: string;
  node: string;
  used_mb: number;
  size_mb: number;
  measured_at: string;
}

export interface ProfileAdminDeps {
  profileRows: Pick<ProfileRows, 'of' | 'find'>;
  rows: Pick<SessionRows, 'profileHolder'>;
  quotas: Pick<QuotaService, 'exclusive'>;
  temporal: Client;
  taskQueue: string;
  audit: Pick<AuditLog, 'record'>;
}

/** The deletion's own deadlines are shorter (the node's answer within 30 s): this one only bounds the wait. */
const DELETION_WAIT_MS = 60_000;

export class ProfileAdmin {
  constructor(private readonly deps: ProfileAdminDeps) {}

  async list(userId: string): Promise<ProfileView[]> {
    return (await this.deps.profileRows.of(userId)).map((p) => ({
      app: p.app,
      node: p.nodeId,
      used_mb: p.usedMb,
      size_mb: p.capMb,
      measured_at: new Date(p.updatedAt).toISOString(),
    }));
  }

  /** Deletes the user's profile of `app` (its volume on its node, then its row) and audits it. */
  async delete(admin: AuthenticatedUser, userId: string, app: App, ip: string): Promise<void> {
    const { profileRows, rows, quotas, temporal, taskQueue, audit } = this.deps;
    await quotas.exclusive(userId, async () => {
      const profile = await profileRows.find(userId, app);
      if (!profile) throw notFound(`user ${userId} has no persistent ${app} profile`);
      const holder = await rows.profileHolder(userId, app);
      if (holder !== null) {
        throw new HttpError(409, 'profile_in_use', `the ${app} profile of user ${userId} is in use by session ${holder}; stop it first`, {}, { session_id: holder });
      }
      let volumeDeleted: boolean;
      try {
        const run = () =>
          temporal.workflow.execute<typeof ProfileDeletionWorkflow>('ProfileDeletionWorkflow', {
            workflowId: profileDeletionWorkflowId(userId, app),
            taskQueue,
            args: [{ userId, app, node: profile.nodeId }],
            // A deletion still running (an earlier request that timed out) is waited for, not doubled.
            workflowIdConflictPolicy: 'USE_EXISTING',
          });
        ({ volumeDeleted } = await temporal.withAbortSignal(AbortSignal.timeout(DELETION_WAIT_MS), run));
      } catch (err) {
        throw deletionError(err, userId, app, profile.nodeId);
      }
      await audit.record({
        action: 'profile.deleted',
        actorId: admin.id,
        userId,
        targetType: 'profile',
        targetId: `${userId}/${app}`,
        sourceIp: ip,
        details: { app, node: profile.nodeId, used_mb: profile.usedMb, volume_deleted: volumeDeleted },
      });
    });
  }
}

/** What a failed deletion tells the admin: still mounted on its node (409), or the node did not answer (503). */
function deletionError(err: unknown, userId: string, app: string, node: string): unknown {
  if (!(err instanceof WorkflowFailedError)) return err;
  const cause = err.cause instanceof ActivityFailure ? err.cause.cause : err.cause;
  if (cause instanceof ApplicationFailure && cause.type === 'ProfileInUseError') {
    return new HttpError(409, 'profile_in_use', `the ${app} profile of user ${userId} is still mounted on node ${node}; try again once its session is gone`);
  }
  if (cause instanceof TimeoutFailure) {
    return new HttpError(503, 'node_unavailable', `node ${node}, which holds the ${app} profile of user ${userId}, did not answer; try again when it is back`, { 'Retry-After': '30' });
  }
  return err;
}
