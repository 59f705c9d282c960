/** Entry point of the `hackstream` command: runs the CLI and turns every failure into a message and an exit code. */
import { CommanderError } from 'commander';
import { buildProgram, commanderExit } from './cli.js';
import { ClientError } from './client-error.js';
import { EXIT } from './exit-codes.js';

declare const HACKSTREAM_CLIENT_VERSION: string | undefined;
const version = typeof HACKSTREAM_CLIENT_VERSION === 'string' ? HACKSTREAM_CLIENT_VERSION : '0.0.0-dev';

async function main(): Promise<void> {
  const io = { env: process.env, out: (l: string) => void process.stdout.write(`${l}\n`), err: (l: string) => void process.stderr.write(`${l}\n`) };
  try {
    await buildProgram(io, version).parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = commanderExit(err);
    } else if (err instanceof ClientError) {
      io.err(`hackstream: ${err.message}`);
      process.exitCode = err.exitCode;
    } else {
      io.err(`hackstream: unexpected error: ${(err as Error).message ?? String(err)}`);
      if (process.env['HACKSTREAM_DEBUG']) io.err((err as Error).stack ?? '');
      process.exitCode = EXIT.failure;
    }
  }
}

void main();
