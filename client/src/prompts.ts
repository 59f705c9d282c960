/**
 * Asking the person: on a terminal (prompts on stderr, so stdout stays clean for --json), or in
 * zenity dialogs (gui/zenity-prompter.ts). Without either, a missing value is an immediate usage
 * error naming the flag that supplies it: the client never waits on a pipe nobody writes to.
 */
import { read } from 'read';
import { ClientError, usageError } from './client-error.js';
import { EXIT } from './exit-codes.js';

export interface Prompter {
  readonly interactive: boolean;
  /** `flag` is how to pass the value without being asked (named in the error when nobody can be asked). */
  text(label: string, opts: { flag: string; default?: string }): Promise<string>;
  secret(label: string, opts: { flag: string }): Promise<string>;
  /** `flag`: the flag that answers yes in advance, if any. */
  confirm(question: string, opts?: { flag?: string }): Promise<boolean>;
  /** Tells the person something (the terminal prints it on stderr). */
  notice(message: string): void;
}

const missing = (label: string, flag: string) => usageError(`${label.toLowerCase()} is missing and there is no terminal to ask on: pass ${flag}`);

function interrupted(err: unknown): never {
  if ((err as Error).message === 'canceled') throw new ClientError('cancelled', EXIT.cancelled);
  throw err;
}

export class TerminalPrompter implements Prompter {
  readonly interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);

  async text(label: string, opts: { flag: string; default?: string }): Promise<string> {
    if (!this.interactive) {
      if (opts.default !== undefined) return opts.default;
      throw missing(label, opts.flag);
    }
    for (;;) {
      const value = (await read({ prompt: `${label}:`, default: opts.default, output: process.stderr }).catch(interrupted)).trim();
      if (value) return value;
    }
  }

  async secret(label: string, opts: { flag: string }): Promise<string> {
    if (!this.interactive) throw missing(label, opts.flag);
    for (;;) {
      const value = await read({ prompt: `${label}:`, silent: true, replace: '', output: process.stderr }).catch(interrupted);
      if (value) return value;
    }
  }

  async confirm(question: string, opts: { flag?: string } = {}): Promise<boolean> {
    if (!this.interactive) {
      throw new ClientError(`${question} — there is no terminal to ask on${opts.flag ? `: pass ${opts.flag}` : ''}`, opts.flag ? EXIT.usage : EXIT.cancelled);
    }
    const answer = await read({ prompt: `${question} [y/N]`, output: process.stderr }).catch(interrupted);
    return /^y(es)?$/i.test(answer.trim());
  }

  notice(message: string): void {
    process.stderr.write(`${message}\n`);
  }
}

/** All of standard input, without the one trailing newline an `echo` adds (--password-stdin). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
