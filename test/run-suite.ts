/**
 * Runs the test suite in two lanes at once (`npm test`): the shared stack's files one at a time
 * (vitest's `integration` project: one Docker engine, sessions that need the machine's cores), and
 * beside them everything that needs neither (unit, workflows, the self-contained integration files,
 * and the control plane's own on a stack of their own: vitest.config.ts). On a 2-core machine
 * vitest alone runs every project one file at a time, one project after another. The second lane
 * runs at a lower CPU priority, so the first lane's sessions and browsers start as fast as they
 * would alone; its output is printed as one block when it ends, so neither lane's lines are
 * interleaved with the other's. Lane 2 ends long before lane 1, so when it fails its failures are
 * printed again at the very end, where a CI log's tail shows them.
 *
 *   tsx test/run-suite.ts                  both lanes
 *   tsx test/run-suite.ts [vitest args]    one vitest run with those arguments, e.g. --project unit
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './support/paths.js';

const VITEST = path.join(REPO_ROOT, 'node_modules', '.bin', 'vitest');
const SECOND_LANE = ['unit', 'workflows', 'self-contained', 'control-plane'];

const children = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const child of children) child.kill(signal);
  });
}

/**
 * Runs vitest; resolves with its exit code. `background`: its output is kept and returned instead
 * of shown, and it runs at nice 10 (the services its files start too).
 */
function vitest(args: string[], background: boolean): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const [command, ...rest] = background ? ['nice', '-n', '10', VITEST, 'run', ...args] : [VITEST, 'run', ...args];
    const child = spawn(command, rest, { cwd: REPO_ROOT, stdio: background ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    children.add(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (err) => {
      children.delete(child);
      resolve({ code: 1, output: `${output}\n${err.message}\n` });
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code: code ?? (signal ? 1 : 0), output });
    });
  });
}

const FAILURE_BANNER = 'Failed Tests';
const MAX_REPEATED_LINES = 150;

/**
 * The part of a vitest output that names and explains its failures: from its banner on, the
 * first lines; without one (vitest itself failed), the last lines.
 */
function failuresOf(output: string): string {
  // eslint-disable-next-line no-control-regex -- vitest colours its output
  const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
  const start = plain.lastIndexOf(FAILURE_BANNER);
  if (start < 0) return `${plain.split('\n').slice(-MAX_REPEATED_LINES).join('\n')}\n`;
  const lines = plain.slice(plain.lastIndexOf('\n', start) + 1).split('\n');
  return lines.slice(0, MAX_REPEATED_LINES).join('\n') + (lines.length > MAX_REPEATED_LINES ? '\n…\n' : '\n');
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.length > 0) return (await vitest(args, false)).code;

  const second = vitest(SECOND_LANE.flatMap((p) => ['--project', p]), true).then((lane) => {
    process.stdout.write(`\n──── lane 2 of 2: ${SECOND_LANE.join(', ')} (exit ${lane.code}) ────\n${lane.output}──── end of lane 2 ────\n\n`);
    return lane;
  });
  const first = (await vitest(['--project', 'integration'], false)).code;
  const { code: secondCode, output: secondOutput } = await second;
  if (secondCode !== 0) {
    process.stdout.write(`\n──── lane 2's failures again (exit ${secondCode}) ────\n${failuresOf(secondOutput)}────\n`);
  }
  if (first !== 0 || secondCode !== 0) {
    process.stdout.write(`test lanes failed: integration exit ${first}, ${SECOND_LANE.join('/')} exit ${secondCode}\n`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
