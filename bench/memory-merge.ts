/**
 * Idle sessions' memory with same-page merging (HACKSTREAM_SESSION_MEMORY_MERGE=on) beside the
 * default, in the same minutes: `n` session containers of a node that allows merging and `n` of one
 * that does not, all from the real runtime, started together and left idle (nothing attached).
 * The host's ksmd runs at the kernel's pace (what an operator gets by switching it on), or with
 * `sleepMs` between its passes of pages_to_scan pages instead (a gentler pace: less CPU, slower
 * merging), and the figures are taken once it has made `scans` full passes over the allowing sessions
 * since the last of them was ready: memory per session of each set (its total over n: a merged
 * page stays charged to one of the sessions that share it), and ksmd's CPU over a window,
 * which all goes to the allowing set (nothing else on the host allows merging). Then each
 * merged session is attached to and must show its page (`showsPage`: the colour check of the
 * end-to-end figures), so that what is saved is not saved from sessions that stopped working.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { KSM_DIR } from '../worker/host-memory-merge.js';
import { docker, untilAppWindow } from '../test/support/docker.js';
import { sessionContainerKit } from '../test/support/session-container.js';
import { testSessionSpec } from '../test/support/session-spec.js';
import { memoryMiB } from './container-stats.js';
import { processesMicros } from './host-cpu.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ksm = (name: string) => readFileSync(`${KSM_DIR}/${name}`, 'utf8').trim();

export interface MemoryMergeResult {
  sessions_per_set: number;
  /** Memory per idle session (`docker stats` used, and anonymous), MiB. */
  default_mib: { used: number; anon: number };
  merged_mib: { used: number; anon: number };
  /** ksmd's CPU over the window, % of one core: in all, and per allowing session. */
  ksmd_cpu_percent: number;
  ksmd_cpu_percent_per_session: number;
  /** The kernel's figures: pages shared, and how many more pages share them. */
  pages_shared: number;
  pages_sharing: number;
  full_scans_waited: number;
  /** Merged sessions that showed their page when attached to afterwards, of `sessions_per_set`. */
  merged_sessions_showing_their_page: number;
  minutes_after_ready: number;
  ksm_pages_to_scan: number;
  ksm_sleep_millisecs: number;
}

export async function measureMemoryMerge(opts: {
  n: number;
  scans: number;
  windowMs: number;
  /** ksmd's sleep_millisecs for the run; absent: the host's. */
  sleepMs?: number;
  /** The page every session opens. */
  url: string;
  /** Attaches to a session's container (its address) and says whether it shows the page. */
  showsPage: (containerIp: string) => Promise<boolean>;
  log: (line: string) => void;
}): Promise<MemoryMergeResult> {
  const merging = await sessionContainerKit('bench-merge-on', '10.214.8.0/24', { memoryMerge: true });
  const plain = await sessionContainerKit('bench-merge-off', '10.214.9.0/24');
  const onIds = Array.from({ length: opts.n }, () => randomUUID());
  const offIds = Array.from({ length: opts.n }, () => randomUUID());
  const runBefore = ksm('run');
  const sleepBefore = ksm('sleep_millisecs');
  try {
    if (opts.sleepMs !== undefined) writeFileSync(`${KSM_DIR}/sleep_millisecs`, String(opts.sleepMs));
    writeFileSync(`${KSM_DIR}/run`, '1');
    const on: string[] = [];
    const off: string[] = [];
    // Alternately, so that both sets start on the same host in the same minutes.
    for (let i = 0; i < opts.n; i++) {
      on.push((await merging.start(testSessionSpec(merging.image, { sessionId: onIds[i]!, url: opts.url }))).container.id);
      off.push((await plain.start(testSessionSpec(plain.image, { sessionId: offIds[i]!, url: opts.url }))).container.id);
    }
    for (const id of on) await untilAppWindow(merging.runtime, id);
    for (const id of off) await untilAppWindow(plain.runtime, id);
    const readyAt = Date.now();
    const scansAtReady = Number(ksm('full_scans'));
    opts.log(`memory merge: ${opts.n} + ${opts.n} idle sessions ready; waiting for ${opts.scans} full scans of ksmd ...`);
    while (Number(ksm('full_scans')) < scansAtReady + opts.scans) await sleep(5000);
    const ksmdBefore = processesMicros(/^ksmd$/, false);
    const t0 = performance.now();
    await sleep(opts.windowMs);
    const ksmdPercent = ((processesMicros(/^ksmd$/, false) - ksmdBefore) / ((performance.now() - t0) * 1000)) * 100;
    const perSession = async (ids: string[]) => {
      const mem = await Promise.all(ids.map(memoryMiB));
      const mean = (f: (m: { used: number; anon: number }) => number) => Math.round(mem.reduce((a, m) => a + f(m), 0) / mem.length);
      return { used: mean((m) => m.used), anon: mean((m) => m.anon) };
    };
    const [defaultMib, mergedMib] = [await perSession(off), await perSession(on)];
    let showing = 0;
    for (const id of on) {
      const ip = Object.values((await docker.getContainer(id).inspect()).NetworkSettings.Networks)[0]?.IPAddress ?? '';
      if (await opts.showsPage(ip)) showing++;
    }
    return {
      sessions_per_set: opts.n,
      default_mib: defaultMib,
      merged_mib: mergedMib,
      merged_sessions_showing_their_page: showing,
      ksmd_cpu_percent: Number(ksmdPercent.toFixed(3)),
      ksmd_cpu_percent_per_session: Number((ksmdPercent / opts.n).toFixed(3)),
      pages_shared: Number(ksm('pages_shared')),
      pages_sharing: Number(ksm('pages_sharing')),
      full_scans_waited: Number(ksm('full_scans')) - scansAtReady,
      minutes_after_ready: Number(((Date.now() - readyAt) / 60_000).toFixed(1)),
      ksm_pages_to_scan: Number(ksm('pages_to_scan')),
      ksm_sleep_millisecs: Number(ksm('sleep_millisecs')),
    };
  } finally {
    try {
      writeFileSync(`${KSM_DIR}/sleep_millisecs`, sleepBefore);
      writeFileSync(`${KSM_DIR}/run`, runBefore);
    } finally {
      try {
        await merging.close(onIds);
      } finally {
        await plain.close(offIds);
      }
    }
  }
}
