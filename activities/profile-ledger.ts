/**
 * What the control plane keeps of persistent profiles (core/profile-rows.ts), written from
 * workflows: the usage a session's node measured when it unmounted the profile, which the storage
 * quota counts, and the row's end when an admin deleted the profile.
 */
import type { ProfileRows } from '../core/profile-rows.js';

export interface ProfileLedgerDeps {
  profileRows: Pick<ProfileRows, 'recordUsage' | 'remove'>;
}

export interface ProfileUsageInput {
  userId: string;
  app: string;
  usedMb: number;
  capMb: number;
}

export function profileLedgerActivities(deps: ProfileLedgerDeps) {
  return {
    async recordProfileUsage(input: ProfileUsageInput): Promise<void> {
      await deps.profileRows.recordUsage(input.userId, input.app, { usedMb: input.usedMb, capMb: input.capMb });
    },

    /** Forgets a profile whose volume was deleted (workflows/profile-deletion-workflow.ts). */
    async forgetProfile(input: { userId: string; app: string }): Promise<{ forgotten: boolean }> {
      return { forgotten: await deps.profileRows.remove(input.userId, input.app) };
    },
  };
}
