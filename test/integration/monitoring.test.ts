/**
 * The operators' monitoring files against a real Prometheus (Debian's) scraping the test stack:
 * deploy/prometheus/prometheus.yml (its jobs, pointed at this stack's API and worker), the alert
 * rules beside it (`promtool check rules`, then evaluated by Prometheus itself without error, every
 * metric they name present), and every panel query of the Grafana dashboards in deploy/grafana/dashboards
 * (each answers without error and returns series).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startApiOn, type ApiUnderTest } from '../support/api-under-test.js';
import { REPO_ROOT } from '../support/paths.js';
import { freePort } from '../support/ports.js';

const stack = inject('stack');
const PROMETHEUS_DIR = path.join(REPO_ROOT, 'deploy', 'prometheus');
const GRAFANA_DIR = path.join(REPO_ROOT, 'deploy', 'grafana', 'dashboards');
const work = mkdtempSync(path.join(os.tmpdir(), 'hs-prometheus-'));

let t: ApiUnderTest;
let prometheus: ChildProcess;
let base: string;

interface Rule {
  name: string;
  query: string;
  health: string;
  lastError?: string;
}

async function query(expr: string): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
  const res = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`);
  return (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
}

async function until<T>(what: string, probe: () => Promise<T | null>, seconds: number): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The repository's configuration, its targets replaced by this stack's, scraping every second. */
function configFor(apiUrl: string, workerUrl: string, temporalSdkUrl: string): string {
  const config = parse(readFileSync(path.join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8'));
  const targets: Record<string, string> = {
    'hackstream-api': new URL(apiUrl).host,
    'hackstream-worker': new URL(workerUrl).host,
    'hackstream-temporal-sdk': new URL(temporalSdkUrl).host,
  };
  expect(config.scrape_configs.map((c: { job_name: string }) => c.job_name).sort()).toEqual(Object.keys(targets).sort());
  for (const job of config.scrape_configs) job.static_configs = [{ targets: [targets[job.job_name]] }];
  config.global = { scrape_interval: '1s', evaluation_interval: '1s' };
  config.rule_files = config.rule_files.map((f: string) => path.join(PROMETHEUS_DIR, f));
  return stringify(config);
}

beforeAll(async () => {
  // A pool configured (on a queue no worker serves): its series exist, as on a real host.
  t = await startApiOn(stack, { HACKSTREAM_POOL: 'firefox:auto:1', HACKSTREAM_TASK_QUEUE: `hs-monitoring-${process.pid}` });
  const configFile = path.join(work, 'prometheus.yml');
  writeFileSync(configFile, configFor(t.api.url, stack.workerMetricsUrl, stack.temporalMetricsUrl));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  prometheus = spawn('prometheus', [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(work, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
    stdio: 'ignore',
  });
  // Every job scraped at least twice (a rate needs two samples), and every rule evaluated once.
  await until(
    'Prometheus did not scrape every job twice',
    async () => {
      const res = await query('count_over_time(up[1m]) >= 3');
      return res.data?.result.length === 3 ? true : null;
    },
    60,
  );
});

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  if (prometheus && prometheus.exitCode === null) await new Promise((r) => prometheus.once('exit', r));
  await t?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("the operators' monitoring files", () => {
  it('pass promtool: the configuration and its alert rules', () => {
    for (const args of [
      ['check', 'config', path.join(PROMETHEUS_DIR, 'prometheus.yml')],
      ['check', 'rules', path.join(PROMETHEUS_DIR, 'alerts.yml')],
    ]) {
      const run = spawnSync('promtool', args, { encoding: 'utf8' });
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    }
  });

  it("scrape the API, the worker and the worker's Temporal SDK of a running stack", async () => {
    const up = await query('up{job=~"hackstream-.*"}');
    expect(up.status).toBe('success');
    const values = (up.data!.result as Array<{ metric: { job: string }; value: [number, string] }>).map((r) => [r.metric.job, r.value[1]]);
    expect(values.sort()).toEqual([
      ['hackstream-api', '1'],
      ['hackstream-temporal-sdk', '1'],
      ['hackstream-worker', '1'],
    ]);
  });

  it('have alert rules Prometheus evaluates without error, each naming only metrics the stack exposes', async () => {
    const rules = await until(
      'the alert rules were not all evaluated',
      async () => {
        const res = (await (await fetch(`${base}/api/v1/rules?type=alert`)).json()) as { data: { groups: Array<{ rules: Array<Rule & { lastEvaluation: string }> }> } };
        const all = res.data.groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((r) => !r.lastEvaluation.startsWith('0001')) ? all : null;
      },
      30,
    );
    const expected = ['HackStreamWorkerDown', 'HackStreamApiDown', 'HackStreamPoolEmpty', 'HackStreamStartLatencyHigh', 'HackStreamOrphansReconciled', 'HackStreamDependencyUnavailable'];
    expect(rules.map((r) => r.name)).toEqual(expect.arrayContaining(expected));
    for (const rule of rules) {
      expect(rule.health, `${rule.name}: ${rule.lastError}`).toBe('ok');
      for (const metric of new Set(rule.query.match(/\b(?:hackstream_[a-z_]+|up)\b/g) ?? [])) {
        const present = await query(`group(${metric})`);
        expect(present.data?.result.length, `${rule.name} names ${metric}, which the stack does not expose`).toBe(1);
      }
    }
  });

  it("have dashboards whose every panel query answers with series", async () => {
    const files = readdirSync(GRAFANA_DIR).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    let checked = 0;
    for (const file of files) {
      const dashboard = JSON.parse(readFileSync(path.join(GRAFANA_DIR, file), 'utf8'));
      // The data source is a variable: the operator picks their Prometheus on import.
      expect(dashboard.templating.list.find((v: { type: string }) => v.type === 'datasource')?.query).toBe('prometheus');
      for (const panel of dashboard.panels.filter((p: { type: string }) => p.type !== 'row')) {
        expect(panel.datasource.uid, `${file}: ${panel.title}`).toBe('${datasource}');
        for (const target of panel.targets) {
          const expr = String(target.expr).replaceAll('$__rate_interval', '1m');
          const res = await query(expr);
          expect(res.status, `${file}: ${panel.title}: ${res.error}`).toBe('success');
          expect(res.data!.result.length, `${file}: ${panel.title}: ${expr} returned no series`).toBeGreaterThan(0);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });
});
