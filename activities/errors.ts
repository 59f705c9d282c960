/**
 * Errors activities throw. Their `name` is what Temporal reports as the failure type; the session
 * workflow lists the permanent ones (workflows/messages.ts PERMANENT_ERROR_TYPES) as
 * non-retryable, so a missing image fails the session at once instead of retrying for minutes.
 */

/** The session image does not exist on this Docker host: permanent. */
export class ImageMissingError extends Error {
  override name = 'ImageMissingError';
  constructor(image: string) {
    super(`session image "${image}" is not present on the Docker host; build it (images/build-session-image.sh) or fix its app's image in the app catalog (HACKSTREAM_APP_CATALOG)`);
  }
}

/** The request cannot be turned into a container (bad labels, bad limits): permanent. */
export class InvalidSessionSpecError extends Error {
  override name = 'InvalidSessionSpecError';
}

/** The container stopped before it became ready; retrying starts a fresh one. */
export class ContainerExitedError extends Error {
  override name = 'ContainerExitedError';
}

/** xpra or the app did not come up in time; retrying starts a fresh container. */
export class NotReadyInTimeError extends Error {
  override name = 'NotReadyInTimeError';
}

/** A session's files cannot be written by this process (permissions, read-only): permanent. */
export class SessionFilesNotWritableError extends Error {
  override name = 'SessionFilesNotWritableError';
}

/** Everything of a session is removed but its credentials in Redis (unreachable): retried. */
export class CredentialsNotRevokedError extends Error {
  override name = 'CredentialsNotRevokedError';
}

/**
 * A persistent profile is mounted for another session on this node: one writer per profile.
 * Retried, since that session's removal (or the reconciler) frees it; the API's lock makes it rare.
 */
export class ProfileInUseError extends Error {
  override name = 'ProfileInUseError';
}
