/** One JSON request to the API, same origin. Every failure becomes an ApiError with a message fit to show. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Method = 'GET' | 'POST' | 'PATCH';

/**
 * How long a call may take before it is given up: a connection left half-open by a laptop's sleep
 * would otherwise hang the page (and, for a refresh, every tab waiting on the refresh lock).
 * Starting a session waits for its container, so it passes its own, longer limit.
 */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * A request that may be sent twice (`idempotent`) whose connection failed is sent once more after
 * this long: a change of the device's networks (a laptop switching networks, a VPN coming up)
 * fails the requests under way at that moment, whether or not they reached the server.
 */
const NETWORK_RETRY_MS = 300;

export async function send<T>(
  method: Method,
  path: string,
  body?: unknown,
  token?: string | null,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  idempotent = method === 'GET',
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const attempt = () =>
    fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      // Tokens travel in the Authorization header only; the API reads no cookie. Same-origin
      // cookies still go along: an operator's sign-in proxy in front of the API needs its own.
      credentials: 'same-origin',
      cache: 'no-store',
      signal: AbortSignal.timeout(timeoutMs),
    });
  let res: Response;
  try {
    res = await attempt().catch(async (err: unknown) => {
      if (!idempotent || (err instanceof DOMException && err.name === 'TimeoutError')) throw err;
      await new Promise((r) => setTimeout(r, NETWORK_RETRY_MS));
      return attempt();
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'TimeoutError') throw new ApiError(0, 'timeout', 'The server did not answer in time: try again.');
    throw new ApiError(0, 'network', 'Cannot reach the server: check your connection and try again.');
  }
  const json: unknown = res.headers.get('content-type')?.includes('json') ? await res.json().catch(() => undefined) : undefined;
  if (res.ok) return json as T;
  const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  // A proxy in front of the API may answer with HTML (502, 504): still give the user something readable.
  const message = typeof error?.message === 'string' ? error.message : `The server answered ${res.status} ${res.statusText}`.trim();
  const code = typeof error?.code === 'string' ? error.code : `http_${res.status}`;
  throw new ApiError(res.status, code, message);
}

/** A query string of the given parameters, leaving out empty ones (the API rejects unknown or empty values). */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') q.set(key, String(value));
  const s = q.toString();
  return s ? `?${s}` : '';
}
