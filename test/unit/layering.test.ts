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

async function restrictedImports(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path.join(REPO_ROOT, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the layering rule', () => {
  it.each([
    ['api/app.ts', "import { createActivities } from '../activities/index.js';"],
    ['api/sessions/session-service.ts', "import { createSessionWorker } from '../../worker/session-worker.js';"],
    ['worker/session-worker.ts', "import { startApi } from '../api/server.js';"],
    ['activities/index.ts', "import { HttpError } from '../api/http-error.js';"],
    ['core/config.ts', "import { sessionWorkflowId } from '../workflows/messages.js';"],
    ['core/db/orm.ts', "import { startApi } from '../../api/server.js';"],
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
});
