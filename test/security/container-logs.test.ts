/**
 * A session container's log is capped on the Docker host (security hardening, point 4): a page or
 * app that floods its output cannot fill the host's disk, and the session keeps running. The
 * container comes from the real runtime (the same code path warms pool containers) on the real
 * engine; the flood goes through the container's own stdout, the pipe Docker's log driver reads.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SESSION_LOG_LIMITS } from '../../activities/docker-session-runtime.js';
import { docker, execIn, waitForApp } from '../support/docker.js';
import { sessionContainerKit } from '../support/session-container.js';
import { testSessionSpec } from '../support/session-spec.js';

const kit = await sessionContainerKit('logs', '10.214.2.0/24');
const { runtime, image } = kit;
const sessionId = randomUUID();
const MiB = 1024 * 1024;
const FLOOD_MB = 100;

afterAll(async () => {
  await kit.close([sessionId]);
});

const spec = testSessionSpec(image, { sessionId });

/** The container's log file and its rotated siblings, with their sizes. */
function logFiles(logPath: string): Array<{ name: string; size: number }> {
  const dir = path.dirname(logPath);
  return readdirSync(dir)
    .filter((f) => f.startsWith(path.basename(logPath)))
    .map((name) => ({ name, size: statSync(path.join(dir, name)).size }));
}

describe('a session container flooding its log', () => {
  it('keeps its log on disk under the cap, and keeps running', async () => {
    const { container } = await kit.start(spec);

    const before = await docker.getContainer(container.id).inspect();
    expect(before.HostConfig.LogConfig?.Type).toBe('json-file');
    expect(before.LogPath, 'the log is not a file on this host').toMatch(/-json\.log$/);

    // 100 MiB of 1 KiB lines into the stdout of the container's init process (PID 1, the same
    // user as the exec): what Docker's log driver reads, as if the app wrote it.
    const line = 'x'.repeat(1023);
    const flood = await execIn(container.id, ['sh', '-c', `yes ${line} | head -c ${FLOOD_MB * MiB} > /proc/1/fd/1`]);
    expect(flood.exitCode, flood.output).toBe(0);

    const cap = SESSION_LOG_LIMITS.maxFileMb * MiB * SESSION_LOG_LIMITS.maxFiles;
    // Docker writes the last lines asynchronously: wait until the file stops growing.
    let sizes = logFiles(before.LogPath);
    for (let previous = -1, i = 0; i < 40; i++) {
      const total = sizes.reduce((sum, f) => sum + f.size, 0);
      if (total === previous) break;
      previous = total;
      await new Promise((r) => setTimeout(r, 250));
      sizes = logFiles(before.LogPath);
    }
    const total = sizes.reduce((sum, f) => sum + f.size, 0);
    // The flood went through the log (it rotated) ...
    expect(sizes.length, JSON.stringify(sizes)).toBeGreaterThan(1);
    // ... and what is kept stays under the cap (each file may pass its size by the one line
    // that made it rotate), far below what was written.
    expect(total, JSON.stringify(sizes)).toBeLessThanOrEqual(cap + SESSION_LOG_LIMITS.maxFiles * 64 * 1024);
    expect(sizes.length).toBeLessThanOrEqual(SESSION_LOG_LIMITS.maxFiles);

    const after = await docker.getContainer(container.id).inspect();
    expect(after.State.Running).toBe(true);
    expect(after.State.Restarting).toBe(false);
    // And the session still works: xpra answers and shows Firefox's window.
    await waitForApp(runtime, container.id);
  });
});
