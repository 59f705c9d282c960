/**
 * Starts the real stack once per test run for the integration and end-to-end tests; each test
 * file starts its own API (in-process, ephemeral port) against it with the settings it needs.
 */
import type { TestProject } from 'vitest/node';
import { startTestStack, type StackInfo } from './test-stack.js';

declare module 'vitest' {
  interface ProvidedContext {
    stack: StackInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stack = await startTestStack();
  const { env, temporalAddress, dataDir, ingressPort, caFile, outside, workerMetricsUrl, temporalMetricsUrl } = stack;
  project.provide('stack', { env, temporalAddress, dataDir, ingressPort, caFile, outside, workerMetricsUrl, temporalMetricsUrl });
  return () => stack.stop();
}
