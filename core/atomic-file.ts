/**
 * Writes a file so that readers (Traefik's file watcher, xpra through a mount, another process)
 * see the old content or the new, never half of it: a temporary file, then a rename over the
 * target. The temporary file may live elsewhere on the same filesystem (a watched directory
 * must not see it), and may be prepared (owner) before it appears. Its name is random: writers in
 * several processes, or several in one at once, never share one. A writer killed before its
 * rename leaves the temporary file behind: removeOlderThan collects those.
 */
import { randomBytes } from 'node:crypto';
import { chmod, rename, rm, stat, writeFile } from 'node:fs/promises';
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

/** When a file or directory was last modified (epoch ms), or null when it is gone. */
export async function modifiedAt(file: string): Promise<number | null> {
  return stat(file).then((st) => st.mtimeMs, () => null);
}

/**
 * Removes the named entries of `dir` (a writer's temporary files or directories) last modified
 * longer than `olderThanMs` ago: what a writer that crashed between its write and its rename left.
 * Younger ones may belong to a write in progress. Returns how many were removed.
 */
export async function removeOlderThan(dir: string, names: string[], olderThanMs: number): Promise<number> {
  let removed = 0;
  for (const name of names) {
    const entry = path.join(dir, name);
    const since = await modifiedAt(entry);
    if (since === null || Date.now() - since <= olderThanMs) continue;
    await rm(entry, { recursive: true, force: true });
    removed++;
  }
  return removed;
}
