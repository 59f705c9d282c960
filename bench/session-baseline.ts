/**
 * Session start baselines against the real stack (the same one the integration tests use):
 *
 * - cold start: POST /v1/sessions until the 201 response (Firefox window up), no pool, N runs;
 * - physical baseline, same run: a plain container of the session image (no limits, no
 *   hardening) from create until xpra reports a Firefox window, polled the same way;
 * - memory of one idle session container (usage minus page cache, as `docker stats` shows).
 *
 * Prints a table and writes bench/results/session-baseline.{json,md}. Figures, not pass/fail.
 *   npm run bench [-- --runs 5]
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { SubnetPool } from '../activities/subnet-pool.js';
import { DockerSessionRuntime } from '../activities/docker-session-runtime.js';
import { hasAppWindow } from '../activities/xpra-info.js';
import { startApiOn } from '../test/support/api-under-test.js';
import { docker } from '../test/support/docker.js';
import { REPO_ROOT } from '../test/support/paths.js';
import { startTestStack } from '../test/support/test-stack.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5;
const image = process.env['HACKSTREAM_SESSION_IMAGE'] ?? 'hackstream/session-firefox:latest';
const runtime = new DockerSessionRuntime(docker, new SubnetPool('10.214.0.0/24'));

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function plainDockerRun(): Promise<number> {
  const started = performance.now();
  const container = await docker.createContainer({ Image: image, HostConfig: { ShmSize: 512 * 1024 * 1024, AutoRemove: false } });
  await container.start();
  try {
    for (;;) {
      try {
        if (hasAppWindow(await runtime.xpraStatus(container.id), 'firefox-esr')) return performance.now() - started;
      } catch {
        // xpra not up yet
      }
      await sleep(250);
    }
  } finally {
    await container.remove({ force: true });
  }
}

async function idleMemoryMiB(containerId: string): Promise<number> {
  const stats = (await docker.getContainer(containerId).stats({ stream: false })) as unknown as {
    memory_stats: { usage: number; stats?: { cache?: number; inactive_file?: number } };
  };
  const cache = stats.memory_stats.stats?.cache ?? stats.memory_stats.stats?.inactive_file ?? 0;
  return (stats.memory_stats.usage - cache) / 1024 / 1024;
}

async function main(): Promise<void> {
  console.log(`starting the stack (Redis, Temporal dev server, worker) ...`);
  const stack = await startTestStack();
  const api = await startApiOn(stack, { HACKSTREAM_LOG_LEVEL: 'error' });
  try {
    const user = await api.newUser();
    const cold: number[] = [];
    const baseline: number[] = [];
    let memory = 0;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const res = await api.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
      const elapsed = performance.now() - t0;
      if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
      const sessionId = String((res.body as { session_id: string }).session_id);
      cold.push(elapsed);
      if (i === runs - 1) {
        await sleep(20_000); // let Firefox settle before reading its memory
        const rows = await docker.listContainers({ filters: { label: [`io.hackstream.session=${sessionId}`] } });
        memory = await idleMemoryMiB(rows[0]!.Id);
      }
      await api.call('POST', `/v1/sessions/${sessionId}/stop`, { token: user.token });
      baseline.push(await plainDockerRun());
      console.log(`run ${i + 1}/${runs}: POST /v1/sessions ${elapsed.toFixed(0)} ms, plain docker run ${baseline.at(-1)!.toFixed(0)} ms`);
    }
    const result = {
      date: new Date().toISOString(),
      runs,
      cold_start_ms: { p50: Math.round(percentile(cold, 50)), min: Math.round(Math.min(...cold)), max: Math.round(Math.max(...cold)) },
      docker_run_baseline_ms: { p50: Math.round(percentile(baseline, 50)), min: Math.round(Math.min(...baseline)), max: Math.round(Math.max(...baseline)) },
      cold_over_baseline: Number((percentile(cold, 50) / percentile(baseline, 50)).toFixed(2)),
      idle_session_memory_mib: Math.round(memory),
    };
    const md = [
      `| measure (${runs} runs) | p50 | min | max |`,
      '|---|---|---|---|',
      `| POST /v1/sessions → 201 (cold) | ${result.cold_start_ms.p50} ms | ${result.cold_start_ms.min} ms | ${result.cold_start_ms.max} ms |`,
      `| plain docker run → Firefox window | ${result.docker_run_baseline_ms.p50} ms | ${result.docker_run_baseline_ms.min} ms | ${result.docker_run_baseline_ms.max} ms |`,
      `| cold / baseline | ${result.cold_over_baseline} | | |`,
      `| idle session container memory | ${result.idle_session_memory_mib} MiB | | |`,
    ].join('\n');
    console.log(`\n${md}\n`);
    const dir = path.join(REPO_ROOT, 'bench', 'results');
    writeFileSync(path.join(dir, 'session-baseline.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(path.join(dir, 'session-baseline.md'), `${md}\n`);
  } finally {
    await api.close();
    await stack.stop();
  }
}

await main();
