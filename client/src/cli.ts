/**
 * The `hackstream` command line (commander). Each action parses its flags, calls one use case and
 * prints the result; errors are ClientErrors with an exit code (exit-codes.ts), printed by main.ts.
 */
import { Command, Option, type CommanderError } from 'commander';
import { createContext, type ClientContext } from './client-context.js';
import { ClientError, usageError } from './client-error.js';
import { EXIT, EXIT_CODE_HELP } from './exit-codes.js';
import { login, logout } from './login.js';
import { TerminalProgress, type Progress } from './progress.js';
import { readStdin, TerminalPrompter, type Prompter } from './prompts.js';
import { apps, appTable, attach, launch, list, openLink, sessionTable, stop, type AttachMode } from './sessions.js';
import { isSettingKey, QUALITIES, readConfigFile, resolveSettings, setSetting, SETTING_KEYS, SETTINGS, unsetSetting } from './settings.js';
import type { AttachOutcome } from './attach-supervisor.js';
import { runGui } from './gui/launcher.js';
import { guiAvailable, ZenityPrompter, ZenityProgress } from './gui/zenity.js';

export interface CliIo {
  env: Record<string, string | undefined>;
  out(line: string): void;
  err(line: string): void;
}

const qualityOption = () => new Option('--quality <preset>', 'quality preset (default: the quality setting, low)').choices(QUALITIES);

/** The terminal when there is one; zenity dialogs for a desktop launch (link handler, GUI). */
function choosePrompter(io: CliIo, preferGui: boolean): { prompter: Prompter; progress: Progress } {
  const terminal = new TerminalPrompter();
  if (preferGui && !terminal.interactive && guiAvailable(io.env)) {
    const zenity = io.env['HACKSTREAM_ZENITY'] ?? 'zenity';
    return { prompter: new ZenityPrompter(zenity), progress: new ZenityProgress(zenity) };
  }
  return { prompter: terminal, progress: new TerminalProgress() };
}

function report(ctx: ClientContext, outcome: AttachOutcome | undefined): void {
  if (!outcome) return;
  ctx.prompter.notice(outcome.message);
  process.exitCode = outcome.exitCode;
}

export function buildProgram(io: CliIo, version: string): Command {
  const context = (preferGui = false) => {
    const { prompter, progress } = choosePrompter(io, preferGui);
    return { ctx: createContext(prompter, io.env, (l) => io.out(l)), progress };
  };
  const program = new Command('hackstream')
    .description('Run Firefox on a HackStream server and show it here with xpra.')
    .version(version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `\n${EXIT_CODE_HELP}\n\nFiles: ~/.config/hackstream/config (settings), ~/.config/hackstream/tokens.json (login, mode 0600).`)
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride();

  program
    .command('configure')
    .description('set up this device: server URL, username and password (asks for each)')
    .option('--ca <file>', "trust this CA certificate (PEM) for the server instead of checking its fingerprint")
    .action(async (opts: { ca?: string }) => {
      const { ctx } = context();
      if (!ctx.prompter.interactive) throw usageError('configure asks questions and needs a terminal; use `hackstream login --server URL --username U --password-stdin`');
      const { server, username } = await login(ctx, { askAll: true, ca: opts.ca });
      io.out(`Logged in to ${server} as ${username}. Start Firefox with: hackstream launch browser`);
    });

  const config = program.command('config').description('read or change settings');
  config
    .command('set')
    .description(`set a setting (${SETTING_KEYS.join(', ')})`)
    .argument('<key>')
    .argument('<value>')
    .action((key: string, value: string) => {
      const { ctx } = context();
      io.out(`${key} = ${setSetting(ctx.paths, key, value)}`);
    });
  config
    .command('get')
    .description('print one setting, or all')
    .argument('[key]')
    .action((key: string | undefined) => {
      const { ctx } = context();
      const values = resolveSettings(ctx.paths, {}, io.env);
      if (key === undefined) {
        for (const k of SETTING_KEYS) if (values[k] !== undefined) io.out(`${k} = ${values[k]}`);
        return;
      }
      if (!isSettingKey(key)) throw usageError(`unknown setting "${key}" (known: ${SETTING_KEYS.join(', ')})`);
      if (values[key] === undefined) throw new ClientError(`${key} is not set`, EXIT.failure);
      io.out(values[key]);
    });
  config
    .command('list')
    .description('every setting with its value and where it comes from')
    .action(() => {
      const { ctx } = context();
      const file = readConfigFile(ctx.paths);
      const values = resolveSettings(ctx.paths, {}, io.env);
      for (const k of SETTING_KEYS) {
        const spec = SETTINGS[k];
        const from = io.env[spec.env] ? `$${spec.env}` : file[k] !== undefined ? ctx.paths.configFile : 'default';
        io.out(`${k} = ${values[k] ?? '(unset)'}    # ${spec.help}; from ${values[k] === undefined ? 'nowhere' : from}`);
      }
    });
  config
    .command('unset')
    .description('remove a setting from the config file')
    .argument('<key>')
    .action((key: string) => unsetSetting(context().ctx.paths, key));

  program
    .command('login')
    .description('log in to the server (asks for what is missing, on a terminal)')
    .option('--server <url>', 'the HackStream server, https://host[:port]')
    .option('--username <name>', 'your user name')
    .option('--password-stdin', 'read the password from standard input')
    .option('--ca <file>', 'trust this CA certificate (PEM) for the server without asking')
    .option('--totp-code <code>', 'the authenticator code, when your account has a second factor')
    .action(async (opts: { server?: string; username?: string; passwordStdin?: boolean; ca?: string; totpCode?: string }) => {
      const { ctx } = context();
      const password = opts.passwordStdin ? await readStdin() : undefined;
      if (opts.passwordStdin && !password) throw usageError('--password-stdin: standard input was empty');
      const { server, username } = await login(ctx, { server: opts.server, username: opts.username, password, ca: opts.ca, totpCode: opts.totpCode });
      io.out(`Logged in to ${server} as ${username}.`);
    });

  program
    .command('logout')
    .description('end this login on the server and forget its tokens here')
    .action(async () => {
      const { ctx } = context();
      const { server, told } = await logout(ctx);
      if (!server) return io.out('not logged in');
      io.out(told ? `Logged out of ${server}.` : `Forgot the login to ${server} here (the server could not be told; its tokens expire by themselves).`);
    });

  program
    .command('launch')
    .description('start a session and attach to it (app: browser, or one `hackstream apps` lists)')
    .argument('<app>', 'browser (Firefox), thunderbird, … as the server names its apps')
    .option('--url <url>', 'the page to open')
    .addOption(qualityOption())
    .addOption(new Option('--profile <mode>', 'ephemeral (default) or persist').choices(['ephemeral', 'persist']))
    .option('--no-attach', 'only start it; print how to attach')
    .option('--browser', "open it in this device's web browser instead of the xpra client")
    .option('--json', 'print the created session as JSON')
    .action(async (app: string, opts: { url?: string; quality?: string; profile?: string; attach: boolean; browser?: boolean; json?: boolean }) => {
      const { ctx, progress } = context();
      const mode: AttachMode = !opts.attach ? 'none' : opts.browser ? 'browser' : 'native';
      const { session, outcome } = await launch(ctx, { app, url: opts.url, quality: opts.quality, profile: opts.profile, mode }, progress);
      if (opts.json) io.out(JSON.stringify(session, null, 2));
      else if (mode === 'none') {
        io.out(`session ${session.session_id} is ${session.state}`);
        io.out(`  attach: hackstream attach ${session.session_id}`);
        io.out(`  stop:   hackstream stop ${session.session_id}`);
      } else if (mode === 'browser') io.out(`session ${session.session_id} opened in your web browser`);
      report(ctx, outcome);
    });

  program
    .command('apps')
    .description('the apps you may start, by the name `launch` takes')
    .option('--json', 'as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { ctx } = context();
      const found = await apps(ctx);
      io.out(opts.json ? JSON.stringify(found, null, 2) : appTable(found));
    });

  program
    .command('list')
    .description('your sessions, newest first')
    .option('--all', "every user's sessions (admins)")
    .option('--json', 'as JSON')
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      const { ctx } = context();
      const sessions = await list(ctx, Boolean(opts.all));
      io.out(opts.json ? JSON.stringify(sessions, null, 2) : sessionTable(sessions));
    });

  program
    .command('stop')
    .description('stop a session')
    .argument('<id>', 'the session id (or the start of it)')
    .option('--json', 'print the session as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const { ctx } = context();
      const session = await stop(ctx, id);
      io.out(opts.json ? JSON.stringify(session, null, 2) : `session ${session.session_id}: ${session.state}`);
    });

  program
    .command('attach')
    .description('attach the xpra client to a running session (reconnects by itself)')
    .argument('<id>', 'the session id (or the start of it)')
    .addOption(qualityOption())
    .action(async (id: string, opts: { quality?: string }) => {
      const { ctx } = context();
      report(ctx, await attach(ctx, id, opts.quality));
    });

  program
    .command('open')
    .description('act on a hackstream:// link (attach to a session, or launch one after asking)')
    .argument('<link>', 'hackstream://<server>/sessions/<id> or hackstream://<server>/launch?url=…')
    .action(async (link: string) => {
      const { ctx, progress } = context(true);
      report(ctx, await openLink(ctx, link, progress));
    });

  program
    .command('gui')
    .description('the graphical launcher (zenity dialogs)')
    .allowExcessArguments(true)
    .action(async () => {
      const zenity = io.env['HACKSTREAM_ZENITY'] ?? 'zenity';
      if (!guiAvailable(io.env)) throw new ClientError('the launcher needs a graphical display (DISPLAY or WAYLAND_DISPLAY)', EXIT.usage);
      const ctx = createContext(new ZenityPrompter(zenity), io.env, (l) => io.out(l));
      await runGui(ctx, zenity);
    });

  return program;
}

/** Commander's own exits: help and version are success, everything else a usage error. */
export function commanderExit(err: CommanderError): number {
  return ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code) ? EXIT.ok : EXIT.usage;
}
