/**
 * The client's exit codes, one per kind of outcome a script or the GUI may act on. The README's
 * client section lists them; `hackstream --help` prints them.
 */
export const EXIT = {
  ok: 0,
  /** Something unexpected; the message says what. */
  failure: 1,
  /** Bad flags or arguments, or a value that is missing and cannot be asked for (no terminal). */
  usage: 2,
  /** No server configured, or not logged in (or the login expired): run `hackstream login`. */
  notLoggedIn: 3,
  /** The server refused the request (quota, permission, invalid input, unknown session). */
  refused: 4,
  /** The server could not be reached, or its certificate is not trusted. */
  unreachable: 5,
  /** The session could not start, or it ended in failure. */
  sessionFailed: 6,
  /** The xpra client could not attach (authentication, certificate, or xpra missing). */
  attachFailed: 7,
  /** The user said no, or interrupted (Ctrl-C). */
  cancelled: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODE_HELP = `Exit codes:
  0    success
  1    unexpected failure
  2    usage error (bad or missing flag or argument)
  3    not configured or not logged in: run \`hackstream login\`
  4    the server refused the request (quota, permission, invalid input, unknown session)
  5    the server is unreachable or its certificate is not trusted
  6    the session failed to start or ended in failure
  7    the xpra client could not attach (authentication, certificate, xpra missing)
  130  cancelled or interrupted`;
