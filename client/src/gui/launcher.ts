/**
 * The graphical launcher (story L0): on first run a form for the server, username and password
 * (the second factor and the server's fingerprint asked when needed), then "Launch Browser" with
 * a URL field offering the last pages, a quality choice and "My sessions" (attach, open in the
 * web browser, stop). Every step is a zenity dialog driven by the same use cases as the CLI.
 */
import { settingsOf, type ClientContext } from '../client-context.js';
import { ClientError } from '../client-error.js';
import { EXIT } from '../exit-codes.js';
import { login, logout, trustQuestion } from '../login.js';
import { recentUrls } from '../recent-urls.js';
import { ago, attach, launch, list, loggedInApi, openInBrowser, stop } from '../sessions.js';
import { parseServerUrl, QUALITIES } from '../settings.js';
import type { AttachOutcome } from '../attach-supervisor.js';
import { escapeMarkup, FIELD_SEPARATOR, showError, showInfo, zenity, ZenityProgress } from './zenity.js';

export const BUTTONS = {
  launch: 'Launch Browser',
  sessions: 'My sessions',
  logout: 'Log out',
  choose: 'Choose…',
  attach: 'Attach',
  openInBrowser: 'Open in web browser',
  stop: 'Stop',
  login: 'Log in',
} as const;

type Step = 'login' | 'launcher' | 'sessions' | 'quit';

const isCancel = (err: unknown) => err instanceof ClientError && err.exitCode === EXIT.cancelled;

export async function runGui(ctx: ClientContext, binary: string): Promise<void> {
  const settings = settingsOf(ctx);
  let step: Step = settings.api_url && ctx.tokens.get(settings.api_url) ? 'launcher' : 'login';
  /** What the login form was last given: after a refused password only that needs typing again. */
  const typed: LoginDefaults = {};
  while (step !== 'quit') {
    try {
      step = step === 'login' ? await loginForm(ctx, binary, typed) : step === 'launcher' ? await launcher(ctx, binary) : await sessions(ctx, binary);
    } catch (err) {
      if (isCancel(err)) continue;
      if (err instanceof ClientError && err.exitCode === EXIT.notLoggedIn) {
        await showError(binary, err.message.replace(/: run `hackstream login`$/, ': please log in again'));
        step = 'login';
        continue;
      }
      await showError(binary, err instanceof ClientError ? err.message : `Unexpected error: ${(err as Error).message}`);
    }
  }
}

interface LoginDefaults {
  server?: string;
  username?: string;
}

/** First run, or after logging out: server, username, password in one form. */
async function loginForm(ctx: ClientContext, binary: string, typed: LoginDefaults): Promise<Step> {
  const current = settingsOf(ctx);
  // zenity's form entries cannot be pre-filled: an empty field stands for the value named here.
  const lastServer = typed.server ?? current.api_url;
  const lastUser = typed.username ?? current.username;
  const hint = lastServer ? `\n(leave Server URL${lastUser ? ' and Username' : ''} empty for ${lastServer}${lastUser ? ` as ${lastUser}` : ''})` : '';
  const answer = await zenity(binary, [
    '--forms',
    '--width=420',
    `--text=${escapeMarkup(`Log in to your HackStream server${hint}`)}`,
    '--add-entry=Server URL',
    '--add-entry=Username',
    '--add-password=Password',
    `--separator=${FIELD_SEPARATOR}`,
    `--ok-label=${BUTTONS.login}`,
  ]);
  if (answer.code !== 0) return 'quit';
  const [server = '', username = '', password = ''] = answer.text.split(FIELD_SEPARATOR);
  const chosenServer = server.trim() || lastServer;
  const chosenUser = username.trim() || lastUser;
  if (chosenServer) typed.server = chosenServer;
  if (chosenUser) typed.username = chosenUser;
  if (!chosenServer || !chosenUser || !password) {
    await showError(binary, 'Server URL, username and password are all needed.');
    return 'login';
  }
  // The CA question first, on its own: not behind a progress dialog counting the seconds.
  const origin = parseServerUrl(chosenServer);
  await ctx.trust.establish(origin, (fp) => ctx.prompter.confirm(trustQuestion(origin, fp)));
  await new ZenityProgress(binary).run('Logging in…', () => login(ctx, { server: origin, username: chosenUser, password }));
  return 'launcher';
}

/** "Launch Browser": a URL (typed, or one of the last ten), a quality, and the other actions. */
async function launcher(ctx: ClientContext, binary: string): Promise<Step> {
  const settings = settingsOf(ctx);
  const recent = recentUrls(ctx.paths);
  const quality = settings.quality ?? 'low';
  const answer = await zenity(binary, [
    '--forms',
    '--width=480',
    // One line: zenity makes the text the frame's label, and a second line sits on the frame.
    `--text=${escapeMarkup(`Logged in to ${settings.api_url} as ${settings.username ?? '?'}`)}`,
    '--add-entry=Page to open',
    '--add-combo=Recent pages',
    // zenity splits combo values at "|": in a URL it is the same as %7C.
    `--combo-values=${recent.map((u) => u.replace(/\|/g, '%7C')).join('|')}`,
    // zenity selects no combo item: the label says what an untouched one means.
    `--add-combo=Quality (default: ${quality})`,
    `--combo-values=${[quality, ...QUALITIES.filter((q) => q !== quality)].join('|')}`,
    `--separator=${FIELD_SEPARATOR}`,
    `--ok-label=${BUTTONS.launch}`,
    `--extra-button=${BUTTONS.sessions}`,
    `--extra-button=${BUTTONS.logout}`,
    '--cancel-label=Quit',
  ]);
  if (answer.code !== 0) {
    if (answer.text === BUTTONS.sessions) return 'sessions';
    if (answer.text === BUTTONS.logout) {
      await logout(ctx);
      return 'login';
    }
    return 'quit';
  }
  const [typed = '', picked = '', chosenQuality = ''] = answer.text.split(FIELD_SEPARATOR);
  const url = typed.trim() || picked.trim() || undefined;
  const { outcome } = await launch(ctx, { app: 'firefox', url, quality: chosenQuality.trim() || quality, mode: 'native' }, new ZenityProgress(binary));
  await reportOutcome(binary, outcome);
  return 'launcher';
}

/** "My sessions": pick one, then attach, open it in the web browser, or stop it. */
async function sessions(ctx: ClientContext, binary: string): Promise<Step> {
  const all = await list(ctx, false);
  const live = all.filter((s) => ['provisioning', 'ready', 'active'].includes(s.state));
  if (live.length === 0) {
    await showInfo(binary, 'You have no running sessions.');
    return 'launcher';
  }
  // Two steps: zenity prints the selected row only for OK (or a double-click); for an extra
  // button it prints nothing but that button's label, so the action is asked for afterwards.
  const answer = await zenity(binary, [
    '--list',
    '--width=720',
    '--height=320',
    '--text=Your running sessions',
    '--column=Session',
    '--column=State',
    '--column=Started',
    // Last, so a long page does not push the other columns out of the window.
    '--column=Page',
    ...live.flatMap((s) => [s.session_id, s.state, ago(s.created_at), s.url ?? '']),
    `--ok-label=${BUTTONS.choose}`,
    '--cancel-label=Back',
  ]);
  if (answer.code !== 0) return 'launcher';
  const selected = live.find((s) => s.session_id === answer.text.split('\n')[0]?.trim());
  if (!selected) {
    await showError(binary, 'Select a session first.');
    return 'sessions';
  }
  const action = await zenity(binary, [
    '--question',
    '--width=460',
    `--text=${escapeMarkup(`Session ${selected.session_id}\n${selected.state}${selected.url ? `, ${selected.url}` : ''}, started ${ago(selected.created_at)}`)}`,
    `--ok-label=${BUTTONS.attach}`,
    `--extra-button=${BUTTONS.openInBrowser}`,
    `--extra-button=${BUTTONS.stop}`,
    '--cancel-label=Back',
  ]);
  const button = action.code === 0 ? BUTTONS.attach : [BUTTONS.openInBrowser, BUTTONS.stop].find((b) => b === action.text.trim());
  if (!button) return 'sessions';
  if (button === BUTTONS.attach) await reportOutcome(binary, await attach(ctx, selected.session_id));
  else if (button === BUTTONS.stop) {
    const s = await new ZenityProgress(binary).run('Stopping the session…', () => stop(ctx, selected.session_id));
    await showInfo(binary, `Session ${s.session_id} is ${s.state}.`);
  } else {
    const { connect } = await (await loggedInApi(ctx)).connect(selected.session_id);
    openInBrowser(ctx, connect.browser.url);
  }
  return 'sessions';
}

async function reportOutcome(binary: string, outcome: AttachOutcome | undefined): Promise<void> {
  if (outcome && outcome.exitCode !== EXIT.ok && outcome.exitCode !== EXIT.cancelled) await showError(binary, outcome.message);
}
