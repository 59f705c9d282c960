/**
 * Writes a file so that readers (Traefik's file watcher, xpra through a mount, another process)
 * see the old content or the new, never half of it: a temporary file, then a rename over the
 * target. The temporary file may live elsewhere on the same filesystem (a watched directory
 * must not see it), and may be prepared (owner) before it appears. Its name is random: writers in
 * several processes, or several in one at once, never share one.
 */
import { randomBytes } from 'node:crypto';
import { chmod, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function writeFileAtomically(
  file: string,
  data: string,
  opts: { mode: number; tmpDir?: string; prepare?: (tmp: string) => Promise<void> },
): Promise<void> {
  const tmp = path.join(opts.tmpDir ?? path.dirname(file), `.${path.basename(file)}.${randomBytes(8).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data, { mode: opts.mode });
    // Exactly the mode asked for, whatever the process's umask (the entry points set 077): a
    // public file stays readable, a private one is never wider.
    await chmod(tmp, opts.mode);
    await opts.prepare?.(tmp);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
