/**
 * The login's tokens.
 *
 * The access token lives only in this module's memory: it is a bearer credential, and not writing
 * it anywhere keeps it out of reach of anything that reads storage later. The refresh token is in
 * localStorage so that a reload, and the other tabs, stay logged in.
 *
 * Refresh tokens work once: the API rotates them and, when a spent one is presented again, revokes
 * the whole login (reuse detection). All tabs share the stored token, so every refresh runs under
 * one Web Lock across tabs, and reads the token inside that lock: a tab that waited while another
 * one rotated must present the new token, never the one it saw before waiting.
 */
import { ApiError, send } from './http';
import type { TokenPair } from './types';

const REFRESH_KEY = 'hackstream.refresh';
const LOCK_NAME = 'hackstream-refresh';
/** A transient refresh failure (network, 5xx) is retried after this long. */
const RETRY_MS = 15_000;
/** A token this close to its expiry is refreshed before use rather than sent and refused. */
const EXPIRY_MARGIN_MS = 5_000;

export type AuthState =
  | { status: 'loading' }
  | { status: 'in' }
  /** `startOver`: the user ended the login on purpose, so the next one starts at the start page. */
  | { status: 'out'; message?: string; startOver?: boolean }
  | { status: 'offline'; message: string };

let state: AuthState = { status: 'loading' };
const listeners = new Set<(s: AuthState) => void>();

let access: string | null = null;
let accessExpiresAt = 0;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let inflight: Promise<string | null> | null = null;
/**
 * Bumped whenever the login ends here: a refresh that was already on its way when the user logged
 * out must not bring the login back with its answer.
 */
let loginEpoch = 0;
/** The refresh token when storage is refused (private modes, blocked site data): this tab only. */
let memoryRefresh: string | null = null;

export function authState(): AuthState {
  return state;
}

export function onAuthChange(listener: (s: AuthState) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function setState(next: AuthState): void {
  state = next;
  for (const listener of listeners) listener(next);
}

// Storage can throw (disabled, private modes): the token is then kept in this tab's memory only.
function storedRefresh(): string | null {
  try {
    return localStorage.getItem(REFRESH_KEY);
  } catch {
    return memoryRefresh;
  }
}

function storeRefresh(token: string | null): void {
  memoryRefresh = token;
  try {
    if (token === null) localStorage.removeItem(REFRESH_KEY);
    else localStorage.setItem(REFRESH_KEY, token);
  } catch {
    /* see storedRefresh */
  }
}

function forgetAccess(): void {
  access = null;
  accessExpiresAt = 0;
  clearTimeout(refreshTimer);
}

function accept(pair: TokenPair): void {
  storeRefresh(pair.refresh_token);
  access = pair.access_token;
  accessExpiresAt = Date.now() + pair.expires_in * 1000;
  // Ahead of expiry, so that requests never wait on a refresh; short lifetimes get half of it.
  const lifetime = pair.expires_in;
  scheduleRefresh((lifetime < 60 ? lifetime / 2 : lifetime - 30) * 1000);
  if (state.status !== 'in') setState({ status: 'in' });
}

function scheduleRefresh(delayMs: number): void {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    refresh().catch(() => scheduleRefresh(RETRY_MS));
  }, delayMs);
}

function ended(message?: string, startOver = false): void {
  forgetAccess();
  const next: AuthState = { status: 'out', startOver };
  if (message) next.message = message;
  setState(next);
}

/** Ends the login in this browser (every tab, through the storage event) without asking the API. */
export function endLogin(message?: string): void {
  loginEpoch++;
  storeRefresh(null);
  ended(message, true);
}

/**
 * Ends the login after `tellApi` (the API's logout, given an access token) has run, under the
 * refresh lock: no refresh of any tab can be on its way meanwhile, so none can answer with a token
 * after the logout. (Inside the lock, a token is refreshed directly: the lock is not reentrant.)
 */
export async function endLoginAfter(tellApi: (token: string) => Promise<void>): Promise<void> {
  await withRefreshLock(async () => {
    const token = access && Date.now() < accessExpiresAt - EXPIRY_MARGIN_MS ? access : await rotate().catch(() => null);
    if (token) await tellApi(token).catch(() => undefined);
    endLogin();
  });
}

function withRefreshLock<T>(task: () => Promise<T>): Promise<T> {
  // Web Locks exist only in secure contexts; over plain http (a LAN test setup) tabs can race.
  if ('locks' in navigator && navigator.locks) return navigator.locks.request(LOCK_NAME, task);
  return task();
}

async function rotate(): Promise<string | null> {
  const epoch = loginEpoch;
  const presented = storedRefresh();
  if (!presented) {
    ended();
    return null;
  }
  let pair: TokenPair;
  try {
    pair = await send<TokenPair>('POST', '/v1/token/refresh', { refresh_token: presented });
  } catch (err) {
    // 401: spent, expired or revoked; 400: not a token at all. Neither will ever work again.
    if (err instanceof ApiError && (err.status === 401 || err.status === 400)) {
      if (storedRefresh() === presented) storeRefresh(null);
      // Ended here while the refresh was on its way (a password change ends every login, this
      // one's refresh token too): that ending's message stands.
      if (epoch === loginEpoch) ended('Your login has ended: log in again.');
      return null;
    }
    throw err;
  }
  // Logged out while the answer was on its way: the new token belongs to an ended login.
  if (epoch !== loginEpoch) return null;
  accept(pair);
  return pair.access_token;
}

/**
 * A new access token (null when the login has ended). Concurrent callers in this tab share one
 * refresh; callers in other tabs queue on the lock. Throws ApiError when the API is unreachable.
 */
export function refresh(): Promise<string | null> {
  inflight ??= withRefreshLock(rotate).finally(() => {
    inflight = null;
  });
  return inflight;
}

/** An access token that is not about to expire, refreshed first when needed; null when logged out. */
export async function accessToken(): Promise<string | null> {
  // Timers are throttled in background tabs, so the scheduled refresh may not have run yet.
  if (access && Date.now() < accessExpiresAt - EXPIRY_MARGIN_MS) return access;
  if (state.status === 'out') return null;
  return refresh();
}

/** After the API refused `rejected` (401): a newer token, refreshing only if no other call already did. */
export async function tokenAfterRejection(rejected: string): Promise<string | null> {
  if (access && access !== rejected) return access;
  return refresh();
}

export async function login(username: string, password: string, totpCode?: string): Promise<void> {
  const body: Record<string, string> = { username, password };
  if (totpCode) body['totp_code'] = totpCode;
  const pair = await send<TokenPair>('POST', '/v1/login', body);
  loginEpoch++;
  accept(pair);
}

/** Signs in as the user the operator's sign-in proxy vouches for (the page came through it). */
export async function proxySignIn(): Promise<void> {
  const pair = await send<TokenPair>('POST', '/v1/auth/proxy');
  loginEpoch++;
  accept(pair);
}

/** Resumes the login kept in storage, if any: the first refresh gives this tab its access token. */
export async function resume(): Promise<void> {
  if (!storedRefresh()) {
    if (state.status !== 'out') setState({ status: 'out' });
    return;
  }
  if (state.status !== 'loading') setState({ status: 'loading' });
  try {
    await refresh();
  } catch (err) {
    setState({ status: 'offline', message: err instanceof Error ? err.message : String(err) });
  }
}

function onStorage(e: StorageEvent): void {
  // key null: another tab cleared the whole storage.
  if (e.key !== null && e.key !== REFRESH_KEY) return;
  const token = storedRefresh();
  if (!token) {
    if (state.status === 'in' || state.status === 'offline') ended('You were logged out in another tab.');
  } else if (state.status === 'out') {
    // Logged in from another tab: join that login.
    void resume();
  }
  // A new token while logged in is another tab's rotation: nothing to do, the next refresh reads it.
}

export function startAuth(): void {
  window.addEventListener('storage', onStorage);
  // A page restored from the back-forward cache missed every storage event meanwhile (a logout,
  // another user's login): start it afresh rather than act on what it remembers.
  window.addEventListener('pageshow', (e) => {
    if (e.persisted) location.reload();
  });
  void resume();
}
