/**
 * Files only their owner may read (tokens, one-time passwords, settings): directories 0700, files
 * 0600, written to a temporary name and renamed so a reader never sees half a file and a crash
 * never leaves one.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ClientError } from './client-error.js';

export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A directory in a shared place (/tmp without $XDG_RUNTIME_DIR) may have been made by someone
  // else first, or be a symbolic link to theirs: secrets never go there.
  const stat = lstatSync(dir);
  if (!stat.isDirectory() || (typeof process.getuid === 'function' && stat.uid !== process.getuid())) {
    throw new ClientError(`${dir} is not a directory of yours; remove it (or set XDG_RUNTIME_DIR) and try again`);
  }
  // mkdir's mode is masked by the umask and leaves an existing directory as it was.
  chmodSync(dir, 0o700);
}

export function writePrivateFile(file: string, content: string): void {
  ensurePrivateDir(path.dirname(file));
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** The file's text, or undefined when it does not exist. */
export function readOptionalFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
