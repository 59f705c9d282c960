/**
 * The folder rule of the layout (eslint.config.js): the API and the worker side never import
 * each other, and the shared floor imports nothing above it. Each case lints a deliberate
 * violation as if it were in that folder, so the rule is shown to fail, not just to pass.
 */
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.js';

const eslint = new ESLint({ cwd: REPO_ROOT });

async function findings(rule: string, file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path.join(REPO_ROOT, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === rule).map((m) => m.message);
}
const restrictedImports = (file: string, source: string) => findings('no-restricted-imports', file, source);

/** A function of `lines` statements, as a module. */
const functionOf = (lines: number) => `export function f(x: number): number {\n${'  x += 1;\n'.repeat(lines - 3)}  return x;\n}\n`;

describe('the layering rule', () => {
  it.each([
    ['api/app.ts', "import { createActivities } from '../activities/index.js';"],
    ['api/sessions/session-service.ts', "import { createSessionWorker } from '../../worker/session-worker.js';"],
    ['worker/session-worker.ts', "import { startApi } from '../api/server.js';"],
    ['activities/index.ts', "import { HttpError } from '../api/http-error.js';"],
    ['core/config.ts', "import { sessionWorkflowId } from '../workflows/messages.js';"],
    ['core/db/orm.ts', "import { startApi } from '../../api/server.js';"],
    ['node-gateway/node-gateway.ts', "import { NodeAgent } from '../api/nodes/node-agent.js';"],
  ])('refuses in %s: %s', async (file, line) => {
    expect(await restrictedImports(file, `${line}\nexport {};\n`)).toHaveLength(1);
  }, 60_000);

  it.each([
    ['api/app.ts', "import { AuditLog } from '../core/audit-log.js';"],
    ['worker/session-worker.ts', "import { createActivities } from '../activities/index.js';"],
    ['activities/index.ts', "import { sessionTlsName } from '../core/ingress-names.js';"],
  ])('allows in %s: %s', async (file, line) => {
    expect(await restrictedImports(file, `${line}\nexport {};\n`)).toEqual([]);
  }, 60_000);

  it('lets the workflow sandbox load the plain constants of core/session-snapshot.ts, and nothing else of core/ by value', async () => {
    expect(await restrictedImports('workflows/session-spec.ts', "import { FINAL_STATES } from '../core/session-snapshot.js';\nexport { FINAL_STATES };\n")).toEqual([]);
    expect(await restrictedImports('workflows/session-spec.ts', "import { poolReadyKey } from '../core/pool-store.js';\nexport { poolReadyKey };\n")).toHaveLength(1);
  }, 60_000);
});

describe('the one-screen rule for functions', () => {
  it.each(['activities/index.ts', 'api/app.ts', 'workflows/session-workflow.ts'])('refuses a function over 60 lines in %s, and allows one of 60', async (file) => {
    expect(await findings('max-lines-per-function', file, functionOf(61))).toHaveLength(1);
    expect(await findings('max-lines-per-function', file, functionOf(60))).toEqual([]);
  }, 60_000);
});
