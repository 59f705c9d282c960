/**
 * What an account change does to the account's running sessions (workflows/account-access-workflow.ts):
 * their browser credentials are revoked and their containers refuse the native tokens issued
 * before it. Each step is idempotent.
 */
import type { AccountStates } from '../core/account-states.js';
import type { CredentialRevocation } from '../core/connect-credentials.js';
import type { SessionRows } from '../core/session-rows.js';
import type { SessionFiles } from './session-files.js';

export interface AccountAccessDeps {
  accounts: Pick<AccountStates, 'read'>;
  store: Pick<SessionRows, 'liveOf'>;
  credentials: CredentialRevocation;
  files: Pick<SessionFiles, 'refuseNativeTokens'>;
}

export function accountAccessActivities(deps: AccountAccessDeps) {
  const { accounts, store, credentials, files } = deps;
  return {
    /** The account's token version and whether it is disabled; null when there is no such account. */
    async accountState(userId: string) {
      return accounts.read(userId);
    },

    /** The sessions of the user that are not over. */
    async liveSessionsOf(userId: string): Promise<string[]> {
      return store.liveOf(userId);
    },

    /** Ends the sessions' credentials from before the change; returns how many sessions still had files. */
    async endSessionsAccess(input: { sessionIds: string[]; refuseNativeIssuedUntil: number }): Promise<number> {
      let reached = 0;
      for (const sessionId of input.sessionIds) {
        // The API revoked them already, right after its write; this is the guarantee if it
        // crashed in between.
        await credentials.revokeAll(sessionId);
        if (await files.refuseNativeTokens(sessionId, input.refuseNativeIssuedUntil)) reached++;
      }
      return reached;
    },
  };
}
