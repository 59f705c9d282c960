/**
 * Edge nodes as their operators make them, for tests against the stack: the real
 * `hackstream-node` command (a process) enrols a node into a directory of its own, and an admin
 * approves it through the API.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { ApiUnderTest } from './api-under-test.js';
import { REPO_ROOT } from './paths.js';
import { collectOutput } from './process-output.js';
import { until } from './until.js';

/** `hackstream-node` as an operator runs it. */
export function nodeCli(args: string[], env: NodeJS.ProcessEnv = process.env, prefix: string[] = []) {
  const command = [...prefix, process.execPath, '--import', 'tsx', 'worker/node-main.ts', ...args];
  return spawn(command[0]!, command.slice(1), { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface NodeEnroller {
  /** A directory for a node, removed by the caller with the rest of `dirs`. */
  tempDir(): string;
  enrolArgs(name: string, dir: string, extra?: string[]): string[];
  /** The nodes as the admin API lists them. */
  nodes(): Promise<Array<{ id: string; state: string; fingerprint: string | null; labels: Record<string, string> }>>;
  /** Enrols with the real command and approves as an admin: the node's directory holds its certificate. */
  enrolledAndApproved(name: string): Promise<string>;
}

/** `prefix`: how the command runs, e.g. in another network namespace (test/support/second-engine.ts). */
export function nodeEnroller(t: ApiUnderTest, admin: { token: string }, caFile: string, dirs: string[], prefix: string[] = []): NodeEnroller {
  const tempDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-node-'));
    dirs.push(dir);
    return dir;
  };
  const enrolArgs = (name: string, dir: string, extra: string[] = []) => [
    'enroll',
    '--server',
    t.origin,
    '--name',
    name,
    '--dir',
    dir,
    '--ca-file',
    caFile,
    '--labels',
    `site=${name}`,
    '--memory-mb',
    '2048',
    '--cpus',
    '2',
    '--max-sessions',
    '2',
    ...extra,
  ];
  const nodes: NodeEnroller['nodes'] = async () => {
    const res = await t.call('GET', '/v1/nodes', { token: admin.token });
    expect(res.status).toBe(200);
    return res.body.nodes;
  };
  return {
    tempDir,
    enrolArgs,
    nodes,
    async enrolledAndApproved(name) {
      const dir = tempDir();
      const proc = nodeCli(enrolArgs(name, dir, ['--wait', '120']), process.env, prefix);
      const done = collectOutput(proc, undefined, 150_000);
      await until(`node ${name} enrolled`, async () => (await nodes()).find((n) => n.id === name), 60_000);
      expect((await t.call('POST', `/v1/nodes/${name}/approve`, { token: admin.token })).status).toBe(200);
      const result = await done;
      expect(result.code, result.stderr).toBe(0);
      return dir;
    },
  };
}
