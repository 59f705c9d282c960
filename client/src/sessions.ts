/** The session commands: launch, list, attach, stop, and acting on a hackstream:// link. */
import { spawn } from 'node:child_process';
import { LIVE_STATES, type ApiClient, type AppView, type ConnectDescriptor, type SessionView } from './api-client.js';
import { superviseAttach, type AttachOutcome } from './attach-supervisor.js';
import { apiOf, settingsOf, type ClientContext } from './client-context.js';
import { ClientError, notLoggedIn, usageError } from './client-error.js';
import { EXIT } from './exit-codes.js';
import { confirmationsFor, parseLink, SESSION_ID } from './links.js';
import { login } from './login.js';
import type { Progress } from './progress.js';
import { rememberUrl } from './recent-urls.js';
import { parseQuality, type Quality } from './settings.js';
import { xpraAttachArguments } from './xpra-command.js';
import { XpraLauncher } from './xpra-process.js';

export type AttachMode = 'native' | 'browser' | 'none';

export interface LaunchInput {
  app: string;
  url?: string;
  quality?: string;
  profile?: string;
  mode: AttachMode;
}

/** `browser` is the design's name for Firefox; any other app goes by its name in the server's catalog. */
const APP_ALIASES: Record<string, string> = { browser: 'firefox' };
/** An app's name as the server's catalog spells them: whether it has the app is the server's answer. */
const APP_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** A URL as a person types it: "example.com" means https://example.com/. */
export function normaliseUrl(raw: string): string {
  const value = raw.trim();
  // "host:8080" and "host:8080/path" are a host and a port, not a URL scheme.
  const withScheme = /^[a-z][a-z0-9+.-]*:(?!\d+(?:[/?#]|$))/i.test(value) ? value : `https://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw usageError(`--url: "${raw}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--url: only http and https pages can be opened, not ${url.protocol}`);
  return url.href;
}

/** The API for a logged-in user; on a terminal, a missing login is asked for first (story A1). */
export async function loggedInApi(ctx: ClientContext): Promise<ApiClient> {
  try {
    return apiOf(ctx);
  } catch (err) {
    if (!(err instanceof ClientError) || err.exitCode !== EXIT.notLoggedIn || !ctx.prompter.interactive) throw err;
    ctx.prompter.notice(`${err.message.replace(/: run .*$/, '')}: log in first`);
    await login(ctx, {});
    return apiOf(ctx);
  }
}

export async function launch(ctx: ClientContext, input: LaunchInput, progress: Progress): Promise<{ session: SessionView; outcome?: AttachOutcome }> {
  const app = APP_ALIASES[input.app] ?? input.app;
  if (!APP_NAME.test(app)) throw usageError(`"${input.app}" is not an app's name (browser, or one \`hackstream apps\` lists)`);
  const quality = parseQuality(input.quality ?? settingsOf(ctx).quality ?? 'low');
  const url = input.url === undefined ? undefined : normaliseUrl(input.url);
  const api = await loggedInApi(ctx);
  const session = await progress.run('Starting Firefox…', () => api.createSession({ app, url, quality, ...(input.profile ? { profile: input.profile } : {}) }));
  if (url) rememberUrl(ctx.paths, url);
  if (input.mode === 'none') return { session };
  if (input.mode === 'browser') {
    openInBrowser(ctx, session.connect!.browser.url);
    return { session };
  }
  return { session, outcome: await attachNative(ctx, api, session.session_id, quality, session.connect) };
}

export function openInBrowser(ctx: ClientContext, url: string): void {
  const opener = ctx.env['HACKSTREAM_BROWSER_OPENER'] ?? 'xdg-open';
  const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
  child.once('error', () => ctx.prompter.notice(`could not start ${opener}; open this link within a minute:\n${url}`));
  child.unref();
}

/** Supervised native attach; `first` is the descriptor the create call already returned. */
export async function attachNative(ctx: ClientContext, api: ApiClient, sessionId: string, quality: Quality, first?: ConnectDescriptor): Promise<AttachOutcome> {
  const xpra = new XpraLauncher(ctx.paths, ctx.env['HACKSTREAM_XPRA'] ?? 'xpra');
  let pending = first;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    xpra.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await superviseAttach(sessionId, {
      async connect() {
        const descriptor = pending ?? (await api.connect(sessionId)).connect;
        pending = undefined;
        return descriptor;
      },
      session: () => api.getSession(sessionId),
      async attach(native) {
        const caFile = await ctx.trust.sessionCaFile(api.server, native.ca_url, native.ca_fingerprint_sha256);
        return xpra.run((passwordFile) => xpraAttachArguments(native, { caFile, passwordFile }, quality), native.password, () =>
          ctx.prompter.notice(`attached to session ${sessionId}`),
        );
      },
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      notice: (m) => ctx.prompter.notice(m),
      now: () => Date.now(),
      interrupted: () => interrupted,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A full session id, or the one live session whose id starts with `given`. */
export async function resolveSessionId(api: ApiClient, given: string): Promise<string> {
  const id = given.trim().toLowerCase();
  if (SESSION_ID.test(id)) return id;
  if (!/^[0-9a-f-]{4,35}$/.test(id)) throw usageError(`"${given}" is not a session id (see hackstream list)`);
  const matches = (await api.listSessions()).filter((s) => s.session_id.startsWith(id));
  if (matches.length === 1) return matches[0]!.session_id;
  throw new ClientError(matches.length ? `"${given}" matches ${matches.length} sessions; give more of the id` : `no session of yours starts with "${given}"`, EXIT.refused, 'not_found');
}

export async function attach(ctx: ClientContext, given: string, quality?: string): Promise<AttachOutcome> {
  const api = await loggedInApi(ctx);
  const id = await resolveSessionId(api, given);
  const session = await api.getSession(id);
  if (!LIVE_STATES.has(session.state)) throw new ClientError(`session ${id} is ${session.state}; it cannot be attached to`, EXIT.refused, 'session_not_running');
  return attachNative(ctx, api, id, parseQuality(quality ?? session.quality));
}

export async function stop(ctx: ClientContext, given: string): Promise<SessionView> {
  const api = await loggedInApi(ctx);
  return api.stopSession(await resolveSessionId(api, given));
}

/** `hackstream apps`: what the user's role may start on the server. */
export async function apps(ctx: ClientContext): Promise<AppView[]> {
  return (await loggedInApi(ctx)).listApps();
}

/** The apps as `hackstream apps` shows them: the name to launch by, its title, what it offers. */
export function appTable(list: AppView[]): string {
  if (list.length === 0) return 'no apps (your role may start none)';
  const rows = [
    ['APP', 'TITLE', 'PROFILES', 'OPENS URLS', 'WARM'],
    ...list.map((a) => [a.name, a.title, a.profiles.join(','), a.opens_urls ? 'yes' : 'no', a.warm_qualities.join(',') || '-']),
  ];
  return columns(rows);
}

export async function list(ctx: ClientContext, all: boolean): Promise<SessionView[]> {
  return (await loggedInApi(ctx)).listSessions(all);
}

/** `hackstream open <link>`: asks what the link's rule asks, then attaches or launches. */
export async function openLink(ctx: ClientContext, raw: string, progress: Progress): Promise<AttachOutcome | undefined> {
  const link = parseLink(raw);
  const configured = settingsOf(ctx).api_url;
  for (const question of confirmationsFor(link, configured)) {
    if (!(await ctx.prompter.confirm(question))) throw new ClientError('cancelled: nothing was done', EXIT.cancelled);
  }
  if (link.server !== configured || !ctx.tokens.get(link.server)) {
    if (!ctx.prompter.interactive) throw notLoggedIn(`not logged in to ${link.server}`);
    await login(ctx, { server: link.server });
  }
  if (link.action.kind === 'attach') return attach(ctx, link.action.sessionId);
  const { outcome } = await launch(ctx, { app: 'firefox', url: link.action.url, quality: link.action.quality, mode: 'native' }, progress);
  return outcome;
}

/** The session as `hackstream list` shows it: when it started, and its latest known event. */
export function lastActivity(s: SessionView): string {
  return [s.ended_at, s.attached_at, s.ready_at, s.created_at].find((t): t is string => Boolean(t)) ?? s.created_at;
}

export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export function sessionTable(sessions: SessionView[], now = Date.now()): string {
  if (sessions.length === 0) return 'no sessions';
  const rows = [
    ['ID', 'APP', 'STATE', 'URL', 'STARTED', 'LAST ACTIVITY'],
    ...sessions.map((s) => [s.session_id, s.app, s.state, s.url ?? '-', ago(s.created_at, now), ago(lastActivity(s), now)]),
  ];
  return columns(rows);
}

/** Rows as aligned columns (the last one unpadded), a header first. */
function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
