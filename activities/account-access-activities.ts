/**
 * What an account change does to the account's running sessions (workflows/account-access-workflow.ts):
 * their browser credentials are revoked and their containers refuse the native tokens issued
 * before it. Each step is idempotent.
 */
import type { AccountState, AccountStates } from '../core/account-states.js';
import type { CredentialRevocation } from '../core/connect-credentials.js';
import type { SessionRows } from '../core/session-rows.js';
import { SessionFilesNotWritableError } from './errors.js';
import type { LiveSessionFiles } from './session-files.js';

export interface AccountAccessDeps {
  accounts: Pick<AccountStates, 'read'>;
  store: Pick<SessionRows, 'liveOf'>;
  credentials: CredentialRevocation;
  /** Where a running session's token bound is written (a host's session directory, or a pod's files). */
  liveFiles: Pick<LiveSessionFiles, 'refuseNativeTokens'>;
}

export function accountAccessActivities(deps: AccountAccessDeps) {
  const { accounts, store, credentials, liveFiles } = deps;
  return {
    /**
     * The account's token version and whether it is disabled, and when that was read (epoch ms,
     * this host's clock, the one native tokens are stamped with); null when there is no such account.
     */
    async accountState(userId: string): Promise<(AccountState & { readAt: number }) | null> {
      const state = await accounts.read(userId);
      return state && { ...state, readAt: Date.now() };
    },

    /** The sessions of the user that are not over. */
    async liveSessionsOf(userId: string): Promise<string[]> {
      return store.liveOf(userId);
    },

    /**
     * Ends one session's credentials from before the change; false when the session has no files
     * (it ended). A file this process may not write will not become writable by retrying.
     */
    async endSessionAccess(input: { sessionId: string; refuseNativeIssuedUntil: number }): Promise<boolean> {
      // The API revoked them already, right after its write; this is the guarantee if it
      // crashed in between.
      await credentials.revokeAll(input.sessionId);
      try {
        return await liveFiles.refuseNativeTokens(input.sessionId, input.refuseNativeIssuedUntil);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
          throw new SessionFilesNotWritableError(`cannot write the session's token bound: ${(err as Error).message}`);
        }
        throw err;
      }
    },
  };
}
