/**
 * Stand-ins for zenity and the xpra client, for driving `hackstream gui` without a display.
 *
 * The fake zenity appends every invocation (its argv) as a JSON line to a log and answers from a
 * scripted queue the way zenity does: text on standard output and an exit code (0 OK; 1 Cancel, or
 * an extra button, whose label it prints). Progress dialogs do not take an answer: they read their
 * standard input until it ends, as zenity's --progress does. Once the queue is empty every dialog
 * is cancelled (exit 1), so a flow that asks more than the test scripted ends instead of hanging;
 * such invocations are marked `unscripted`.
 *
 * The fake xpra logs its arguments (and whether the password file it was given held a password),
 * says it attached, and exits with the code it was given: 0 is a person closing the window.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** One answer: what zenity prints and its exit code; `dialog` (e.g. '--forms') is checked against the invocation. */
export interface ZenityReply {
  dialog?: string;
  text?: string;
  /** A form's fields, printed joined by the dialog's --separator (zenity's default is |). */
  fields?: string[];
  code?: number;
}

export interface ZenityCall {
  /** The dialog kind: '--forms', '--question', '--progress', … */
  dialog: string;
  args: string[];
  unscripted?: boolean;
  /** The scripted reply named another dialog kind than the one shown. */
  mismatch?: string;
}

const DIALOGS = ['--forms', '--question', '--error', '--info', '--warning', '--entry', '--list', '--progress', '--password'];

/** A `#!/bin/sh` wrapper running a CommonJS script with this Node (no shebang length limits). */
function writeNodeExecutable(file: string, script: string): void {
  writeFileSync(`${file}.cjs`, script);
  writeFileSync(file, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(`${file}.cjs`)} "$@"\n`);
  chmodSync(file, 0o755);
}

const readJsonLines = <T>(file: string): T[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as T)
    : [];

export class FakeZenity {
  readonly binary: string;
  private readonly log: string;
  private readonly queue: string;

  constructor(dir: string, replies: ZenityReply[] = []) {
    this.binary = path.join(dir, 'zenity');
    this.log = path.join(dir, 'zenity.log');
    this.queue = path.join(dir, 'zenity-queue.json');
    this.script(replies);
    writeNodeExecutable(
      this.binary,
      `const fs = require('node:fs');
const args = process.argv.slice(2);
const dialogs = ${JSON.stringify(DIALOGS)};
const dialog = args.find((a) => dialogs.includes(a)) ?? '?';
const entry = { dialog, args };
if (dialog === '--progress') {
  fs.appendFileSync(${JSON.stringify(this.log)}, JSON.stringify(entry) + '\\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
} else {
  const queue = JSON.parse(fs.readFileSync(${JSON.stringify(this.queue)}, 'utf8'));
  const reply = queue.shift();
  fs.writeFileSync(${JSON.stringify(this.queue)}, JSON.stringify(queue));
  if (!reply) entry.unscripted = true;
  else if (reply.dialog && reply.dialog !== dialog) entry.mismatch = reply.dialog;
  fs.appendFileSync(${JSON.stringify(this.log)}, JSON.stringify(entry) + '\\n');
  const answer = reply && !entry.mismatch ? reply : { code: 1 };
  const separator = (args.find((a) => a.startsWith('--separator=')) ?? '--separator=|').slice('--separator='.length);
  const text = answer.fields ? answer.fields.join(separator) : answer.text;
  if (text !== undefined) process.stdout.write(text + '\\n');
  process.exitCode = answer.code ?? 0;
}
`,
    );
  }

  /** Replaces the queue of answers still to give. */
  script(replies: ZenityReply[]): void {
    writeFileSync(this.queue, JSON.stringify(replies));
  }

  /** Every invocation so far, progress dialogs included, in the order they started. */
  calls(): ZenityCall[] {
    return readJsonLines<ZenityCall>(this.log);
  }

  /** The dialogs that waited for an answer (everything but progress), in order. */
  dialogs(): ZenityCall[] {
    return this.calls().filter((c) => c.dialog !== '--progress');
  }

  /** Answers not used yet. */
  remaining(): ZenityReply[] {
    return JSON.parse(readFileSync(this.queue, 'utf8')) as ZenityReply[];
  }
}

export interface XpraCall {
  args: string[];
  /** Whether the --password-file it was given existed and was not empty when it started. */
  passwordGiven: boolean;
}

export class FakeXpra {
  readonly binary: string;
  private readonly log: string;

  constructor(dir: string, exitCode = 0) {
    this.binary = path.join(dir, 'xpra');
    this.log = path.join(dir, 'xpra.log');
    writeNodeExecutable(
      this.binary,
      `const fs = require('node:fs');
const args = process.argv.slice(2);
const file = (args.find((a) => a.startsWith('--password-file=')) ?? '').slice('--password-file='.length);
let passwordGiven = false;
try { passwordGiven = fs.readFileSync(file, 'utf8').length > 0; } catch {}
fs.appendFileSync(${JSON.stringify(this.log)}, JSON.stringify({ args, passwordGiven }) + '\\n');
process.stdout.write('Attached to ' + (args[1] ?? '?') + ' (press Control-C to detach)\\n');
process.exitCode = ${exitCode};
`,
    );
  }

  calls(): XpraCall[] {
    return readJsonLines<XpraCall>(this.log);
  }
}

/** The value of `--name=value` in a zenity argv (the first one), or undefined. */
export const optionValue = (args: string[], name: string): string | undefined => args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);

/** Every value of a repeated `--name=value` option. */
export const optionValues = (args: string[], name: string): string[] => args.filter((a) => a.startsWith(`${name}=`)).map((a) => a.slice(name.length + 1));
