/**
 * Calls to the Kubernetes API made idempotent, as every step of a session's objects must be under
 * Temporal's retries: a create that finds its object there keeps it, a delete of what is gone is
 * done.
 */
import { ApiException } from '@kubernetes/client-node';

/** The HTTP status a failed call was answered with (undefined: it was not an answer of the API server). */
export const statusOf = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);

/** A create that finds its object already there (a retried step, or a concurrent one) keeps it. */
export async function keepExisting(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (statusOf(err) !== 409) throw err;
  }
}

/** A delete of what is already gone is done. */
export async function goneIsDone(remove: () => Promise<unknown>): Promise<void> {
  try {
    await remove();
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
}
