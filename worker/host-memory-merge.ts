/**
 * Same-page merging on this host (HACKSTREAM_SESSION_MEMORY_MERGE=on): the session containers
 * allow it (images/session/memory-merge.py), but only the kernel's ksmd merges, and whether it
 * runs is the host's setting, shared with everything else on the host that allows merging (virtual
 * machines, for one). The worker does not switch it on itself: it says what it found.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type { Logger } from 'winston';

/** Where the kernel's KSM settings are (a test passes a directory of its own). */
export const KSM_DIR = '/sys/kernel/mm/ksm';

/** What `run` says: merging (1), stopped (0), unmerging everything (2), or no KSM in this kernel. */
export async function ksmState(dir = KSM_DIR): Promise<'running' | 'stopped' | 'unsupported'> {
  try {
    return (await readFile(`${dir}/run`, 'utf8')).trim() === '1' ? 'running' : 'stopped';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'unsupported';
    throw err;
  }
}

/** Whether a kernel keeps a process's merging setting across exec (Linux 6.7 and later), which the session image needs. */
export function keepsMergingAcrossExec(release: string): boolean {
  const [major = 0, minor = 0] = (/^(\d+)\.(\d+)/.exec(release) ?? []).slice(1).map(Number);
  return major > 6 || (major === 6 && minor >= 7);
}

/** Logs, once at start, whether sessions' memory will really be merged; never stops the worker. */
export async function reportHostMemoryMerge(enabled: boolean, logger: Logger, host: { dir?: string; release?: string } = {}): Promise<void> {
  if (!enabled) return;
  const release = host.release ?? os.release();
  if (!keepsMergingAcrossExec(release)) {
    logger.warn(`HACKSTREAM_SESSION_MEMORY_MERGE=on, but kernel ${release} drops the setting when a session's processes start (Linux 6.7 keeps it): sessions' memory is not merged`);
    return;
  }
  let state: Awaited<ReturnType<typeof ksmState>>;
  try {
    state = await ksmState(host.dir);
  } catch (err) {
    logger.warn('HACKSTREAM_SESSION_MEMORY_MERGE=on, but whether the host kernel merges pages cannot be read', { error: String(err) });
    return;
  }
  if (state === 'running') logger.info("session memory merge on: the host kernel merges sessions' identical pages", { ksm: state });
  else if (state === 'stopped') {
    logger.warn("HACKSTREAM_SESSION_MEMORY_MERGE=on, but the host kernel's same-page merging is stopped: sessions' memory is not merged until it runs (as root: echo 1 > /sys/kernel/mm/ksm/run)", { ksm: state });
  } else logger.warn("HACKSTREAM_SESSION_MEMORY_MERGE=on, but this kernel has no same-page merging (CONFIG_KSM): sessions' memory is not merged", { ksm: state });
}
