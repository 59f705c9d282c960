import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES } from '../../core/config.js';
import { REPO_ROOT } from '../support/paths.js';

const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const ci = readFileSync(path.join(REPO_ROOT, '.ci', 'run'), 'utf8');

describe('README', () => {
  it('documents every configuration variable', () => {
    const missing = ENV_VARIABLES.filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('has the two quick-start commands, and CI runs the test one', () => {
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Using it'));
    const commands = [...quickStart.matchAll(/```\n(.+)\n```/g)].map((m) => m[1]);
    expect(commands).toEqual(['bash stack/up.sh', 'bash stack/test.sh']);
    expect(ci).toContain('bash stack/test.sh');
  });
});
