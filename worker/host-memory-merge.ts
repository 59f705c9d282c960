/**
 * Same-page merging on this host (HACKSTREAM_SESSION_MEMORY_MERGE=on): the session containers
 * allow it (images/session/memory-merge.py), but only the kernel's ksmd merges, and whether it
 * runs is the host's setting, shared with everything else on the host that allows merging (virtual
 * machines, for one). The worker does not switch it on itself: it says what it found.
 */
import { readFile } from 'node:fs/promises';
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

/** Logs, once at start, whether sessions' memory will really be merged. */
export async function reportHostMemoryMerge(enabled: boolean, logger: Logger, dir = KSM_DIR): Promise<void> {
  if (!enabled) return;
  const state = await ksmState(dir);
  if (state === 'running') logger.info('session memory merge on: the host kernel merges sessions\' identical pages', { ksm: state });
  else if (state === 'stopped') {
    logger.warn('HACKSTREAM_SESSION_MEMORY_MERGE=on, but the host kernel\'s same-page merging is stopped: sessions\' memory is not merged until it runs (as root: echo 1 > /sys/kernel/mm/ksm/run)', { ksm: state });
  } else logger.warn('HACKSTREAM_SESSION_MEMORY_MERGE=on, but this kernel has no same-page merging (CONFIG_KSM): sessions\' memory is not merged', { ksm: state });
}
