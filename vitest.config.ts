import { defineConfig } from 'vitest/config';

// Integration tests that start what they need themselves (Redis, PostgreSQL, a Kubernetes control
// plane, a real Kubernetes node whose images come from the Docker engine) and touch neither the
// stack nor the Docker engine's sessions.
const SELF_CONTAINED = [
  'test/integration/database.test.ts',
  'test/integration/helm-chart.test.ts',
  'test/integration/kube-node.test.ts',
  'test/integration/kube-session-runtime.test.ts',
  'test/integration/node-registry.test.ts',
  'test/integration/platform-host-reboot.test.ts',
  'test/integration/profile-host-restart.test.ts',
  'test/integration/redis-mutex.test.ts',
  'test/security/files-at-rest.test.ts',
];
// Integration tests of the control plane alone: they need the stack, but start no session
// container and no browser.
const CONTROL_PLANE = [
  'test/integration/monitoring.test.ts',
  'test/integration/node-enrolment.test.ts',
  'test/integration/node-tunnel.test.ts',
  'test/integration/prepare.test.ts',
  'test/integration/proxy-sign-in.test.ts',
  'test/integration/worker-metrics.test.ts',
  'test/security/live-access.test.ts',
  'test/security/login-throttling.test.ts',
  'test/security/reauthentication.test.ts',
  'test/security/redis-auth.test.ts',
];
const STACK_TESTS = ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/security/**/*.test.ts'];

// Tiers: unit (one module, fakes allowed; the dashboard's beside it), workflows (Temporal's
// time-skipping test server with fake activities), self-contained (real services each file starts for itself), and the
// integration/e2e/security tests against the real stack (Redis, Temporal dev server, Docker,
// SQLite/PostgreSQL, Chromium) started once per project by test/support/global-setup.ts: those of
// the control plane alone, and the rest. test/run-suite.ts runs the last beside all the others.
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'dashboard/test/**/*.test.ts'] },
      },
      {
        test: {
          name: 'workflows',
          include: ['test/workflows/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'self-contained',
          include: SELF_CONTAINED,
          testTimeout: 240_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'control-plane',
          include: CONTROL_PLANE,
          globalSetup: ['test/support/global-setup.ts'],
          // Each file starts its API on the stack's one API port.
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: STACK_TESTS,
          exclude: [...SELF_CONTAINED, ...CONTROL_PLANE],
          globalSetup: ['test/support/global-setup.ts'],
          // Shared Docker engine and a 2-core machine: one file at a time.
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
