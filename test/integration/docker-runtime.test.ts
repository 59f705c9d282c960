/** The Docker side of sessions against the real engine and the real session image. */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { DockerSessionRuntime } from '../../activities/docker-session-runtime.js';
import { ImageMissingError } from '../../activities/errors.js';
import { hasAppWindow } from '../../activities/xpra-info.js';
import type { SessionSpec } from '../../workflows/messages.js';
import { docker, sessionContainers } from '../support/docker.js';

const runtime = new DockerSessionRuntime(docker);
const image = process.env['HACKSTREAM_SESSION_IMAGE'] ?? 'hackstream/session-firefox:latest';
const created: string[] = [];

function spec(overrides: Partial<SessionSpec> = {}): SessionSpec {
  const s: SessionSpec = {
    sessionId: randomUUID(),
    userId: randomUUID(),
    app: 'firefox',
    url: null,
    quality: 'auto',
    profile: 'ephemeral',
    image,
    resources: { memoryMb: 1024, cpus: 0.5, shmMb: 256, pidsLimit: 400 },
    timeouts: { idleSeconds: 60, connectSeconds: 60, maxDurationSeconds: 600, readySeconds: 60, activityPollSeconds: 5 },
    requestedAt: Date.now(),
    ...overrides,
  };
  created.push(s.sessionId);
  return s;
}

afterAll(async () => {
  for (const id of created) await runtime.removeSessionContainers(id);
});

describe('DockerSessionRuntime', () => {
  it('creates one labelled, limited, loopback-only container however often it is asked', async () => {
    const s = spec();
    const first = await runtime.ensureSessionContainer(s);
    const again = await runtime.ensureSessionContainer(s);
    expect(again).toEqual(first);
    expect(await sessionContainers(s.sessionId)).toHaveLength(1);

    const info = await docker.getContainer(first.id).inspect();
    expect(info.Config.Labels).toMatchObject({
      'io.hackstream.managed': 'true',
      'io.hackstream.session': s.sessionId,
      'io.hackstream.user': s.userId,
      'io.hackstream.app': 'firefox',
    });
    expect(info.Config.User).toBe('1000:1000');
    expect(info.HostConfig).toMatchObject({
      Memory: 1024 * 1024 * 1024,
      NanoCpus: 0.5e9,
      ShmSize: 256 * 1024 * 1024,
      PidsLimit: 400,
      CapDrop: ['ALL'],
      ReadonlyRootfs: true,
      SecurityOpt: ['no-new-privileges:true'],
    });
    expect(info.HostConfig.PortBindings?.['14500/tcp']?.[0]?.HostIp).toBe('127.0.0.1');
    expect(first.xpraHostPort).toBeGreaterThan(0);
  });

  it('reads xpra status until the Firefox window exists', async () => {
    const s = spec();
    const c = await runtime.ensureSessionContainer(s);
    const deadline = Date.now() + 60_000;
    let seen = false;
    while (!seen && Date.now() < deadline) {
      try {
        const status = await runtime.xpraStatus(c.id);
        expect(status.clients).toBe(0);
        seen = hasAppWindow(status, 'firefox-esr');
      } catch {
        // xpra not listening yet
      }
      if (!seen) await new Promise((r) => setTimeout(r, 250));
    }
    expect(seen).toBe(true);
  });

  it('replaces a container that is no longer running', async () => {
    const s = spec();
    const first = await runtime.ensureSessionContainer(s);
    await docker.getContainer(first.id).kill();
    expect(await runtime.inspect(first.id)).toMatchObject({ running: false });
    const second = await runtime.ensureSessionContainer(s);
    expect(second.id).not.toBe(first.id);
    expect(await runtime.inspect(second.id)).toMatchObject({ running: true });
    expect(await sessionContainers(s.sessionId)).toHaveLength(1);
  });

  it('treats removing what is already gone as success', async () => {
    const s = spec();
    const c = await runtime.ensureSessionContainer(s);
    expect(await runtime.removeSessionContainers(s.sessionId)).toBe(1);
    expect(await runtime.removeSessionContainers(s.sessionId)).toBe(0);
    expect(await runtime.inspect(c.id)).toBeNull();
    expect(await runtime.logsTail(c.id, 5)).toBe('');
  });

  it('reports a missing image as the permanent ImageMissingError', async () => {
    const s = spec({ image: 'hackstream/no-such-image:never' });
    await expect(runtime.ensureSessionContainer(s)).rejects.toBeInstanceOf(ImageMissingError);
    expect(await sessionContainers(s.sessionId)).toHaveLength(0);
  });
});
