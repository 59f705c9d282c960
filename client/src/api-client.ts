/**
 * The HackStream API as the client uses it: the logged-in user's calls, with the access token
 * refreshed transparently (see token-store.ts) and the server's refusals turned into ClientErrors
 * with the server's own message.
 */
import { ClientError, notLoggedIn } from './client-error.js';
import { EXIT } from './exit-codes.js';
import { requestJson, serverError, type JsonResponse } from './https-json.js';
import type { ServerTrust } from './server-trust.js';
import type { TokenPair, TokenStore } from './token-store.js';

/** A session as the API shows it (the fields the client reads). */
export interface SessionView {
  session_id: string;
  app: string;
  state: string;
  reason: string | null;
  message: string | null;
  url: string | null;
  quality: string;
  created_at: string;
  ready_at: string | null;
  attached_at: string | null;
  ended_at: string | null;
  connect?: ConnectDescriptor;
}

/** An app the user's role may start, as GET /v1/apps lists it. */
export interface AppView {
  name: string;
  title: string;
  profiles: string[];
  opens_urls: boolean;
  warm_qualities: string[];
}

export interface ConnectDescriptor {
  expires_at: string;
  /** hackstream://<server>/sessions/<id> (servers before the client existed do not send it). */
  app_link?: string;
  browser: { url: string };
  native: { host: string; port: number; sni: string; username: string; password: string; ca_url: string; ca_fingerprint_sha256: string };
}

export const LIVE_STATES = new Set(['provisioning', 'ready', 'active']);
export const FINAL_STATES = new Set(['stopped', 'failed']);

/** Server error codes that mean the session could not be had, rather than "you may not". */
const SESSION_FAILURE_CODES = new Set(['session_failed', 'session_timeout']);

/** What a refused request becomes. */
export function refusal(res: JsonResponse): ClientError {
  const { code, message } = serverError(res);
  if (res.status === 401) return notLoggedIn(`the server refused your login (${message})`);
  if (SESSION_FAILURE_CODES.has(code)) return new ClientError(`the session could not start: ${message}`, EXIT.sessionFailed, code);
  if (res.status >= 500) return new ClientError(`the server failed: ${message} (HTTP ${res.status})`, EXIT.failure, code);
  return new ClientError(message, EXIT.refused, code);
}

export async function refreshTokens(server: string, trust: ServerTrust, refreshToken: string): Promise<TokenPair | 'rejected'> {
  const res = await requestJson(server, 'POST', '/v1/token/refresh', { trust: trust.trustFor(server), body: { refresh_token: refreshToken } });
  if (res.status === 200) return res.body as TokenPair;
  if (res.status === 401 || res.status === 400) return 'rejected';
  throw refusal(res);
}

export class ApiClient {
  constructor(
    readonly server: string,
    private readonly trust: ServerTrust,
    private readonly tokens: TokenStore,
  ) {}

  /** An authenticated call; answers the parsed body of a 2xx, throws a ClientError otherwise. */
  async call<T>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    const refresh = (rt: string) => refreshTokens(this.server, this.trust, rt);
    let token = await this.tokens.accessToken(this.server, refresh);
    if (!token) throw notLoggedIn(this.tokens.get(this.server) ? 'your login has expired' : `not logged in to ${this.server}`);
    const send = (t: string) =>
      requestJson(this.server, method, path, { trust: this.trust.trustFor(this.server), body, headers: { authorization: `Bearer ${t}` }, timeoutMs });
    let res = await send(token);
    if (res.status === 401) {
      // Revoked or expired early (a role change, another device's logout): one refresh, then give up.
      token = await this.tokens.accessToken(this.server, refresh, token);
      if (!token) throw notLoggedIn('your login has expired or was ended');
      res = await send(token);
    }
    if (res.status >= 200 && res.status < 300) return res.body as T;
    throw refusal(res);
  }

  createSession(input: { app: string; url?: string; quality: string; profile?: string }): Promise<SessionView> {
    // The server answers once the session is ready (its own timeout is shorter than this).
    return this.call<SessionView>('POST', '/v1/sessions', input, 240_000);
  }

  async listSessions(all = false): Promise<SessionView[]> {
    return (await this.call<{ sessions: SessionView[] }>('GET', `/v1/sessions${all ? '?all=1' : ''}`)).sessions;
  }

  async listApps(): Promise<AppView[]> {
    return (await this.call<{ apps: AppView[] }>('GET', '/v1/apps')).apps;
  }

  getSession(id: string): Promise<SessionView> {
    return this.call<SessionView>('GET', `/v1/sessions/${encodeURIComponent(id)}`);
  }

  connect(id: string): Promise<SessionView & { connect: ConnectDescriptor }> {
    return this.call('POST', `/v1/sessions/${encodeURIComponent(id)}/connect`);
  }

  stopSession(id: string): Promise<SessionView> {
    return this.call<SessionView>('POST', `/v1/sessions/${encodeURIComponent(id)}/stop`, undefined, 60_000);
  }

  logout(): Promise<unknown> {
    return this.call('POST', '/v1/logout');
  }
}
