/**
 * zenity, GTK's dialog tool (GTK is already there for the xpra client), as the GUI's toolkit: no
 * browser engine, nothing resident between dialogs, fit for a device with 512 MB. Each dialog is
 * one zenity process; its answer is what it prints and its exit code (0 OK, 1 Cancel or an extra
 * button, whose label it prints, 5 timeout).
 */
import { spawn } from 'node:child_process';
import { ClientError } from '../client-error.js';
import { EXIT } from '../exit-codes.js';
import type { Progress } from '../progress.js';
import type { Prompter } from '../prompts.js';

export const TITLE = 'HackStream';
/** Separates form fields in zenity's answer: a character no URL, name or typed password holds. */
export const FIELD_SEPARATOR = '\u001f';

export interface ZenityAnswer {
  code: number;
  /** Standard output without its final newline. */
  text: string;
}

export const guiAvailable = (env: Record<string, string | undefined>): boolean => Boolean(env['DISPLAY'] || env['WAYLAND_DISPLAY']);

export function zenity(binary: string, args: string[], input?: string): Promise<ZenityAnswer> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [`--title=${TITLE}`, ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'ignore'] });
    let text = '';
    child.stdout?.on('data', (c: Buffer) => (text += c.toString('utf8')));
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(new ClientError(err.code === 'ENOENT' ? `zenity (${binary}) is not installed: apt install zenity` : `zenity failed: ${err.message}`, EXIT.failure)),
    );
    child.once('close', (code) => resolve({ code: code ?? 1, text: text.replace(/\n$/, '') }));
    if (input !== undefined) child.stdin?.end(input);
  });
}

const cancelled = () => new ClientError('cancelled', EXIT.cancelled);

/** Pango markup is on in zenity's texts: a server's message must not be read as markup. */
export const escapeMarkup = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function showError(binary: string, message: string): Promise<ZenityAnswer> {
  return zenity(binary, ['--error', '--width=420', `--text=${escapeMarkup(message)}`]);
}

export function showInfo(binary: string, message: string): Promise<ZenityAnswer> {
  return zenity(binary, ['--info', '--width=420', `--text=${escapeMarkup(message)}`]);
}

export class ZenityPrompter implements Prompter {
  readonly interactive = true;

  constructor(private readonly binary: string) {}

  async text(label: string, opts: { flag: string; default?: string }): Promise<string> {
    const answer = await zenity(this.binary, ['--entry', `--text=${escapeMarkup(label)}`, ...(opts.default ? [`--entry-text=${opts.default}`] : [])]);
    if (answer.code !== 0) throw cancelled();
    return answer.text.trim();
  }

  async secret(label: string): Promise<string> {
    const answer = await zenity(this.binary, ['--entry', '--hide-text', `--text=${escapeMarkup(label)}`]);
    if (answer.code !== 0) throw cancelled();
    return answer.text;
  }

  async confirm(question: string): Promise<boolean> {
    return (await zenity(this.binary, ['--question', '--width=460', `--text=${escapeMarkup(question)}`])).code === 0;
  }

  notice(message: string): void {
    // Reconnect chatter is not worth a dialog; it goes where a desktop launch's output goes.
    process.stderr.write(`${message}\n`);
  }
}

/** zenity's pulsating progress dialog, its text counting the seconds. */
export class ZenityProgress implements Progress {
  constructor(private readonly binary: string) {}

  async run<T>(label: string, work: () => Promise<T>): Promise<T> {
    const child = spawn(this.binary, [`--title=${TITLE}`, '--progress', '--pulsate', '--auto-close', '--no-cancel', '--width=360', `--text=${escapeMarkup(label)}`], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.once('error', () => undefined); // no dialog is no reason to fail the work
    child.stdin.on('error', () => undefined);
    const started = Date.now();
    const timer = setInterval(() => child.stdin.write(`# ${label} ${Math.round((Date.now() - started) / 1000)} s\n`), 500);
    try {
      return await work();
    } finally {
      clearInterval(timer);
      child.stdin.end('100\n');
    }
  }
}
