/** Authenticated calls to the API: the bearer token, one refresh-and-retry when it is refused. */
import { accessToken, endLoginAfter, tokenAfterRejection } from './auth';
import { ApiError, send, type Method } from './http';

export { ApiError, query } from './http';

const loggedOut = () => new ApiError(401, 'unauthorized', 'Your login has ended: log in again.');

// Only a refused token is worth a refresh: other 401s (a wrong current password) are answers.
const tokenRefused = (err: unknown): err is ApiError => err instanceof ApiError && err.status === 401 && (err.code === 'unauthorized' || err.code === 'http_401');

/** `idempotent`: the call may reach the API twice (GETs are; see send). */
export async function api<T>(method: Method, path: string, body?: unknown, timeoutMs?: number, idempotent?: boolean): Promise<T> {
  const token = await accessToken();
  if (!token) throw loggedOut();
  try {
    return await send<T>(method, path, body, token, timeoutMs, idempotent);
  } catch (err) {
    if (!tokenRefused(err)) throw err;
    const fresh = await tokenAfterRejection(token);
    if (!fresh) throw loggedOut();
    return send<T>(method, path, body, fresh, timeoutMs, idempotent);
  }
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body);
/** A POST the API answers the same however often it arrives (stopping a session). */
export const postIdempotent = <T>(path: string) => api<T>('POST', path, undefined, undefined, true);
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body);

/** Tells the API to end the login (revoking the refresh token), then forgets it whatever the answer. */
export async function logout(): Promise<void> {
  // Unreachable or already ended: forgetting the tokens locally is what the user asked for.
  await endLoginAfter(async (token) => {
    await send('POST', '/v1/logout', undefined, token);
  });
}

/** The message to show for any failure. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
