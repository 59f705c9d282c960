/**
 * Same-page merging of sessions' memory (HACKSTREAM_SESSION_MEMORY_MERGE): a session container of
 * a node that allows it runs xpra, Xvfb and the app with merging allowed, and the host kernel's
 * ksmd then merges their identical pages; one of a node that does not (the default) allows none,
 * and none of its pages are merged. Both from the real runtime, seen from the host's /proc.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KSM_DIR } from '../../worker/host-memory-merge.js';
import { docker, waitForApp } from '../support/docker.js';
import { sessionContainerKit } from '../support/session-container.js';
import { testSessionSpec } from '../support/session-spec.js';
import { until } from '../support/until.js';

const merging = await sessionContainerKit('merge-on', '10.214.7.0/28', { memoryMerge: true });
const plain = await sessionContainerKit('merge-off', '10.214.7.16/28');
const onId = randomUUID();
const offId = randomUUID();

// The host's ksmd runs for this file (what an operator who turns merging on does), scanning
// faster than the kernel's default so that the test does not wait minutes; as it was afterwards.
const KSM_SETTINGS = ['run', 'pages_to_scan'] as const;
const ksmBefore = Object.fromEntries(KSM_SETTINGS.map((k) => [k, readFileSync(`${KSM_DIR}/${k}`, 'utf8').trim()]));
beforeAll(() => {
  writeFileSync(`${KSM_DIR}/pages_to_scan`, '5000');
  writeFileSync(`${KSM_DIR}/run`, '1');
});
afterAll(async () => {
  try {
    writeFileSync(`${KSM_DIR}/pages_to_scan`, ksmBefore['pages_to_scan']!);
    writeFileSync(`${KSM_DIR}/run`, ksmBefore['run']!);
  } finally {
    try {
      await merging.close([onId]);
    } finally {
      await plain.close([offId]);
    }
  }
});

/** A container's xpra, Xvfb and app processes as the host sees them, with their KSM state. */
async function ksmOfSession(containerId: string): Promise<{ comm: string; mergeAny: string | undefined; merging: number }[]> {
  const top = await docker.getContainer(containerId).top({ ps_args: '-o pid,comm' });
  const [pidCol, commCol] = [top.Titles.indexOf('PID'), top.Titles.indexOf('COMMAND')];
  return top.Processes.filter((p: string[]) => ['xpra', 'Xvfb', 'firefox-esr'].includes(p[commCol]!)).map((p: string[]) => {
    const stat = Object.fromEntries(
      readFileSync(`/proc/${p[pidCol]}/ksm_stat`, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(/:?\s+/)),
    );
    return { comm: p[commCol]!, mergeAny: stat['ksm_merge_any'], merging: Number(stat['ksm_merging_pages']) };
  });
}

describe("sessions' memory merged by the kernel", () => {
  it('is allowed, and merged, in the containers of a node that says so, and only there', async () => {
    const on = await merging.start(testSessionSpec(merging.image, { sessionId: onId }));
    const off = await plain.start(testSessionSpec(plain.image, { sessionId: offId }));
    await waitForApp(merging.runtime, on.container.id);
    await waitForApp(plain.runtime, off.container.id);

    const allowed = await ksmOfSession(on.container.id);
    expect(allowed.map((p) => p.comm).sort()).toEqual(['Xvfb', 'firefox-esr', 'xpra']);
    expect(allowed.map((p) => p.mergeAny)).toEqual(['yes', 'yes', 'yes']);
    const notAllowed = await ksmOfSession(off.container.id);
    expect(notAllowed.map((p) => p.comm).sort()).toEqual(['Xvfb', 'firefox-esr', 'xpra']);
    expect(notAllowed.map((p) => p.mergeAny)).toEqual(['no', 'no', 'no']);

    // ksmd merges the allowing session's identical pages (Firefox's own, and theirs with Xvfb's
    // and xpra's), and two of its full scans later still none of the other's.
    await until('pages of the allowing session merged', async () => {
      const pages = (await ksmOfSession(on.container.id)).reduce((sum, p) => sum + p.merging, 0);
      return pages > 0 ? pages : null;
    }, 120_000, 1000);
    const scans = Number(readFileSync(`${KSM_DIR}/full_scans`, 'utf8'));
    await until('two more full scans', async () => (Number(readFileSync(`${KSM_DIR}/full_scans`, 'utf8')) >= scans + 2 ? true : null), 120_000, 1000);
    expect((await ksmOfSession(off.container.id)).map((p) => p.merging)).toEqual([0, 0, 0]);
  }, 240_000);
});
