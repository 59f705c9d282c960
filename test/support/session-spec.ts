/** Session specs for tests: a small Firefox session of nobody in particular. */
import { randomUUID } from 'node:crypto';
import type { SessionSpec } from '../../workflows/messages.js';

export function testSessionSpec(image: string, overrides: Partial<SessionSpec> = {}): SessionSpec {
  return {
    sessionId: randomUUID(),
    userId: randomUUID(),
    app: 'firefox',
    url: null,
    quality: 'auto',
    profile: 'ephemeral',
    image,
    resources: { memoryMb: 1024, cpus: 0.5, shmMb: 256, pidsLimit: 400 },
    timeouts: { idleSeconds: 60, connectSeconds: 60, maxDurationSeconds: 600, readySeconds: 60, activityPollSeconds: 5 },
    policy: { clipboard: true, fileTransfer: false },
    requestedAt: Date.now(),
    ...overrides,
  };
}
