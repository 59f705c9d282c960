/**
 * Bundles the workflow code once at build time (npm run build), so production workers load a
 * prebuilt bundle instead of running webpack at every start.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_FILE, WORKFLOW_INTERCEPTOR_MODULES } from '../worker/workflow-bundle.js';

async function build(): Promise<void> {
  const distDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(distDir, 'workflows', 'index.js'),
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: new DefaultLogger('WARN'),
  });
  await writeFile(path.join(distDir, WORKFLOW_BUNDLE_FILE), code);
  console.log(`workflow bundle written: dist/${WORKFLOW_BUNDLE_FILE} (${Math.round(code.length / 1024)} KiB)`);
}

await build();
