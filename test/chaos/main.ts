/**
 * `npm run chaos [-- --rounds N] [--no-dockerd | --only worker,dockerd,...] [--seed S]`: the chaos suite (chaos-run.ts), long.
 * Prints each round, then the figures, and writes them to bench/results/chaos-<date>.json. Exits
 * 1 when an invariant was violated.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../support/paths.js';
import { COMPONENTS, runChaos } from './chaos-run.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '50' },
    seed: { type: 'string' },
    'no-dockerd': { type: 'boolean', default: false },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(`usage: npm run chaos -- [--rounds N (50)] [--seed S] [--no-dockerd | --only ${COMPONENTS.join(',')}]`);
  process.exit(0);
}
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`--rounds: a whole number of rounds, at least 1 (got ${values.rounds})`);
  process.exit(2);
}
const seed = values.seed === undefined ? Date.now() : Number(values.seed);
const only = values.only?.split(',').map((c) => c.trim());
const unknown = only?.filter((c) => !(COMPONENTS as readonly string[]).includes(c)) ?? [];
if (unknown.length > 0 || only?.length === 0) {
  console.error(`--only: components among ${COMPONENTS.join(', ')} (got ${values.only})`);
  process.exit(2);
}
const components = COMPONENTS.filter((c) => (only ? only.includes(c) : !(values['no-dockerd'] && c === 'dockerd')));
console.log(`chaos: ${rounds} rounds, killing one of ${components.join(', ')} per round, seed ${seed}`);
const report = await runChaos({ rounds, components, seed });
const sorted = [...report.recoveryMs].sort((a, b) => a - b);
const summary = {
  date: new Date().toISOString(),
  seed,
  ...report,
  recoveryMedianMs: sorted[Math.floor(sorted.length / 2)] ?? null,
};
console.log(JSON.stringify({ ...summary, recoveryMs: undefined, cleanMs: undefined }, null, 2));
// A run of some components only is kept apart from the full runs of the same day.
const scope = components.length === COMPONENTS.length ? '' : `-${components.join('-')}`;
const out = path.join(REPO_ROOT, 'bench', 'results', `chaos-${summary.date.slice(0, 10)}${scope}.json`);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
console.log(`written to ${path.relative(REPO_ROOT, out)}`);
process.exit(report.violations.length === 0 ? 0 : 1);
