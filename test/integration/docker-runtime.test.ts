/** The Docker side of sessions against the real engine and the real session image. */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { serializeLabels } from '../../activities/container-labels.js';
import { DockerSessionRuntime, networkNameFor, SESSION_REMOVALS_AT_ONCE } from '../../activities/docker-session-runtime.js';
import { ImageMissingError } from '../../activities/errors.js';
import { SubnetPool } from '../../activities/subnet-pool.js';
import { hasAppWindow } from '../../activities/xpra-info.js';
import type { SessionContainer, SessionSpec } from '../../workflows/messages.js';
import { docker, execIn, sessionContainers, sleepingContainer, waitForApp } from '../support/docker.js';
import { sessionContainerKit } from '../support/session-container.js';
import { testSessionSpec } from '../support/session-spec.js';

const kit = await sessionContainerKit('runtime', '10.214.0.0/24');
const { runtime, image, files } = kit;
const created: string[] = [];
const PROFILE = '/home/hs/.mozilla/hackstream-profile';
/** An X client asking for the clipboard's targets, as an app about to paste does (GTK waits for the answer). */
const CLIPBOARD_TARGETS = [
  'import gi',
  "gi.require_version('Gtk', '3.0')",
  'from gi.repository import Gtk, Gdk',
  'found, targets = Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD).wait_for_targets()',
  "print('targets:', ' '.join(str(t) for t in targets) if found else 'none')",
].join('\n');

afterAll(async () => {
  await kit.close(created);
});

function spec(overrides: Partial<SessionSpec> = {}): SessionSpec {
  const s = testSessionSpec(image, overrides);
  created.push(s.sessionId);
  return s;
}

/** What the prepareSessionFiles activity does, then the container. */
async function start(s: SessionSpec): Promise<SessionContainer> {
  return (await kit.start(s)).container;
}

/** A file of /proc for the container's xpra server process: its environment or its memory maps. */
async function xpraServerProcFile(containerId: string, file: 'environ' | 'maps'): Promise<string> {
  const read = await execIn(containerId, ['sh', '-c', `cat "/proc/$(pgrep -o -f "/usr/bin/xpra start")/${file}"`]);
  expect(read.exitCode, read.output).toBe(0);
  return read.output;
}

/** The environment the container's xpra server runs with (the quality preset's batching). */
async function xpraServerEnvironment(containerId: string): Promise<string[]> {
  return (await xpraServerProcFile(containerId, 'environ')).split('\0');
}

/** The largest screen the container's X server offers, as xrandr reports it ("W x H"). */
async function maxScreen(containerId: string): Promise<string | undefined> {
  const read = await execIn(containerId, ['env', 'DISPLAY=:100', 'xrandr']);
  expect(read.exitCode, read.output).toBe(0);
  return /maximum (\d+ x \d+)/.exec(read.output)?.[1];
}

/** The video encoders the container's xpra server loaded (its memory maps). */
async function loadedVideoEncoders(containerId: string): Promise<string[]> {
  const maps = await xpraServerProcFile(containerId, 'maps');
  return [...new Set([...maps.matchAll(/xpra\/codecs\/(enc_x264|enc_x265|enc_ffmpeg|vpx)\/encoder/g)].map((m) => m[1]!))].sort();
}

describe('DockerSessionRuntime', () => {
  it('creates one labelled, limited, hardened container without published ports, however often it is asked', async () => {
    const s = spec();
    const first = await start(s);
    const again = await runtime.ensureSessionContainer(s, files.dirOf(s.sessionId));
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
      MemorySwap: 1024 * 1024 * 1024,
      // No CPU quota while it starts: provisioning applies the session's once the window is up
      // (test/unit/session-provisioning.test.ts; the quota a running session has: test/e2e/warm-pool.test.ts).
      NanoCpus: 0,
      ShmSize: 256 * 1024 * 1024,
      PidsLimit: 400,
      CapDrop: ['ALL'],
      ReadonlyRootfs: true,
      SecurityOpt: ['no-new-privileges:true'],
      NetworkMode: networkNameFor(s.sessionId),
      Privileged: false,
    });
    expect(info.HostConfig.CapAdd ?? []).toEqual([]);
    expect(info.HostConfig.PortBindings ?? {}).toEqual({});
    expect(info.HostConfig.PublishAllPorts).toBe(false);
    expect(Object.keys(info.HostConfig.Tmpfs ?? {}).sort()).toEqual(['/home/hs', '/tmp']);
    expect(info.Mounts).toEqual([expect.objectContaining({ Type: 'bind', Destination: '/run/hackstream', RW: false })]);
    expect(Object.keys(info.NetworkSettings.Networks)).toEqual([networkNameFor(s.sessionId)]);
    expect(first.ip).toBe(info.NetworkSettings.Networks[networkNameFor(s.sessionId)]!.IPAddress);
    // A /28 of the configured pool, not one of Docker's (few) default address pools.
    const network = await docker.getNetwork(networkNameFor(s.sessionId)).inspect();
    expect(network.IPAM?.Config?.[0]?.Subnet).toMatch(/^10\.214\.0\.\d+\/28$/);
    expect(first.ip.startsWith('10.214.0.')).toBe(true);

    // Inside: the root filesystem refuses writes, Docker's default seccomp filter is on, no capabilities.
    const write = await execIn(first.id, ['sh', '-c', 'touch /hackstream-test']);
    expect(write.exitCode).not.toBe(0);
    expect(write.output).toMatch(/Read-only file system/);
    const status = await execIn(first.id, ['grep', '-E', '^(Seccomp|CapEff|NoNewPrivs):', '/proc/1/status']);
    expect(status.output).toMatch(/NoNewPrivs:\s+1/);
    expect(status.output).toMatch(/Seccomp:\s+2/);
    expect(status.output).toMatch(/CapEff:\s+0000000000000000/);
  });

  it('never puts a session network on a subnet the host routes already (a bridge a killed engine left behind)', async () => {
    // The /28 the next session would get: the first of the kit's pool that no network has.
    const used = new Set((await docker.listNetworks()).flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet)));
    const next = [...new SubnetPool('10.214.0.0/24').subnets()].find((sn) => !used.has(sn))!;
    // An orphan as the engine leaves one: a bridge Docker no longer knows, up without a port (no
    // carrier), still holding the subnet's gateway address (so the kernel routes the subnet to it).
    const orphan = `hsdo${process.pid % 100_000}`;
    execFileSync('ip', ['link', 'add', orphan, 'type', 'bridge']);
    try {
      const [a, b, c, d] = next.split('/')[0]!.split('.').map(Number);
      execFileSync('ip', ['addr', 'add', `${a}.${b}.${c}.${d! + 1}/28`, 'dev', orphan]);
      execFileSync('ip', ['link', 'set', orphan, 'up']);
      const s = spec();
      await start(s);
      const network = await docker.getNetwork(networkNameFor(s.sessionId)).inspect();
      expect(network.IPAM?.Config?.[0]?.Subnet).toMatch(/^10\.214\.0\.\d+\/28$/);
      expect(network.IPAM?.Config?.[0]?.Subnet).not.toBe(next);
    } finally {
      execFileSync('ip', ['link', 'delete', orphan]);
    }
  });

  it('reads xpra status until the Firefox window exists', async () => {
    const c = await start(spec());
    const status = await waitForApp(runtime, c.id);
    expect(status.clients).toBe(0);
    expect(hasAppWindow(status, 'firefox-esr')).toBe(true);
  });

  it('starts xpra with the role policy and the quality preset', async () => {
    const c = await start(spec({ quality: 'low', policy: { clipboard: false, fileTransfer: false } }));
    await waitForApp(runtime, c.id);
    const info = (await execIn(c.id, ['xpra', 'info', ':100', '--socket-dir=/tmp/xpra'])).output;
    expect(info).not.toMatch(/^clipboard\./m); // no clipboard helper at all
    expect(info).toMatch(/^encodings=\('rgb', 'png', 'jpeg'\)$/m);
    expect(info).toMatch(/^bandwidth-limit=1000000$/m);
    // xpra sends a changing window at most every 80 ms; Firefox paints at the display's rate, with
    // the image's memory-saving preferences.
    expect(await xpraServerEnvironment(c.id)).toEqual(expect.arrayContaining(['XPRA_BATCH_ALWAYS=1', 'XPRA_BATCH_MIN_DELAY=80', 'XPRA_BATCH_EXPIRE_DELAY=80']));
    // Screens up to 1080p, no video encoder loaded (each is memory of every session).
    expect(await maxScreen(c.id)).toBe('1920 x 1080');
    expect(await loadedVideoEncoders(c.id)).toEqual([]);
    const prefs = (await execIn(c.id, ['cat', `${PROFILE}/user.js`])).output;
    expect(prefs).not.toContain('layout.frame_rate');
    expect(prefs).toContain('user_pref("dom.ipc.processPrelaunch.enabled", false);');
    // `low` hides page scrollbars (a user stylesheet, which needs its preference); Firefox starts maximized.
    expect(prefs).toContain('user_pref("toolkit.legacyUserProfileCustomizations.stylesheets", true);');
    expect((await execIn(c.id, ['cat', `${PROFILE}/chrome/userContent.css`])).output).toContain('scrollbar-width: none !important');
    expect(JSON.parse((await execIn(c.id, ['cat', `${PROFILE}/xulstore.json`])).output)).toMatchObject({
      'chrome://browser/content/browser.xhtml': { 'main-window': { sizemode: 'maximized' } },
    });

    const open = await start(spec({ quality: 'auto', policy: { clipboard: true, fileTransfer: false } }));
    await waitForApp(runtime, open.id);
    const openInfo = (await execIn(open.id, ['xpra', 'info', ':100', '--socket-dir=/tmp/xpra'])).output;
    expect(openInfo).toMatch(/^clipboard\.CLIPBOARD\./m);
    // With nobody attached the clipboard has no peer: an app that asks for it (Firefox does while
    // it starts) is answered "empty" at once, not after xpra's 1.5 s wait for a client (the image's
    // clipboard patch); a client that attaches turns it on (test/e2e/session-lifecycle.test.ts).
    expect(openInfo).toMatch(/^clipboard\.CLIPBOARD\.enabled=False$/m);
    const asked = await execIn(open.id, ['env', 'DISPLAY=:100', 'python3', '-c', CLIPBOARD_TARGETS]);
    expect(asked.output).toMatch(/^targets: none$/m);
    expect(await runtime.logsTail(open.id, 500)).not.toMatch(/remote clipboard request timed out/);
    expect(openInfo).toMatch(/^encodings=.*'webp'/m);
    // `auto`: a changing window at most every 50 ms.
    expect(await xpraServerEnvironment(open.id)).toEqual(expect.arrayContaining(['XPRA_BATCH_ALWAYS=1', 'XPRA_BATCH_MIN_DELAY=50', 'XPRA_BATCH_EXPIRE_DELAY=50']));
    // Screens up to 2560x1600; H.264 only, for native clients.
    expect(await maxScreen(open.id)).toBe('2560 x 1600');
    expect(await loadedVideoEncoders(open.id)).toEqual(['enc_x264']);
    // Firefox maps the image's compiled scripts, and cannot write a copy of its own into the
    // session's memory (the home is a tmpfs): the directory is read-only.
    const scripts = await execIn(open.id, ['sh', '-c', `grep -c /usr/lib/hackstream/firefox-script-cache/scriptCache.bin "/proc/$(pgrep -o -x firefox-esr)/maps"; test -w ${PROFILE}/startupCache && echo writable || echo read-only`]);
    expect(scripts.output.trim().split('\n')).toEqual([expect.stringMatching(/^[1-9]\d*$/), 'read-only']);
    expect((await execIn(open.id, ['ls', `${PROFILE}/chrome`])).exitCode).not.toBe(0); // scrollbars shown
    // The profile is the image's (Firefox's first start, done at image build), not a new one.
    const profileCreated = JSON.parse((await execIn(open.id, ['cat', `${PROFILE}/times.json`])).output).created as number;
    const containerCreated = Date.parse((await docker.getContainer(open.id).inspect()).Created);
    expect(profileCreated).toBeLessThan(containerCreated);
  });

  it("refuses a largest screen that is not WIDTHxHEIGHT: nothing else reaches Xvfb's command line", async () => {
    for (const bad of ['3840x2160 -ac', '0x1080', '1920x99999', '2560x']) {
      const c = await docker.createContainer({ Image: image, User: '1000:1000', Env: [`HACKSTREAM_MAX_SCREEN=${bad}`] });
      try {
        await c.start();
        expect(((await c.wait()) as { StatusCode: number }).StatusCode, bad).toBe(2);
        expect((await c.logs({ stdout: true, stderr: true })).toString()).toContain('HACKSTREAM_MAX_SCREEN must be WIDTHxHEIGHT');
      } finally {
        await c.remove({ force: true });
      }
    }
  });

  it('replaces a container that is no longer running', async () => {
    const s = spec();
    const first = await start(s);
    await docker.getContainer(first.id).kill();
    expect(await runtime.inspect(first.id)).toMatchObject({ running: false });
    const second = await runtime.ensureSessionContainer(s, files.dirOf(s.sessionId));
    expect(second.id).not.toBe(first.id);
    expect(await runtime.inspect(second.id)).toMatchObject({ running: true });
    expect(await sessionContainers(s.sessionId)).toHaveLength(1);
  });

  it('treats removing what is already gone as success, network included', async () => {
    const s = spec();
    const c = await start(s);
    expect(await runtime.removeSessionContainers(s.sessionId)).toBe(1);
    expect(await runtime.removeSessionContainers(s.sessionId)).toBe(0);
    expect(await runtime.inspect(c.id)).toBeNull();
    expect(await runtime.logsTail(c.id, 5)).toBe('');
    const networks = await docker.listNetworks({ filters: { name: [networkNameFor(s.sessionId)] } });
    expect(networks).toEqual([]);
  });

  it('removes many sessions stopped together a few at a time, every one of them', async () => {
    // The engine as the runtime sees it, counting the container removals it is asked for at once.
    let inFlight = 0;
    let peak = 0;
    const counting = Object.create(docker, {
      getContainer: {
        value: (id: string) => {
          const container = docker.getContainer(id);
          const remove = container.remove.bind(container);
          container.remove = async (opts?: object) => {
            peak = Math.max(peak, ++inFlight);
            try {
              return await remove(opts);
            } finally {
              inFlight--;
            }
          };
          return container;
        },
      },
    }) as Docker;
    const stack = `hs-test-removals-${process.pid}`;
    const remover = new DockerSessionRuntime(counting, new SubnetPool('10.214.0.0/24'), stack);
    const sessions = Array.from({ length: SESSION_REMOVALS_AT_ONCE * 3 }, () => spec());
    // Running containers labelled as the sessions' (what is removed is found by its labels).
    await Promise.all(sessions.map((s) => sleepingContainer(image, serializeLabels({ sessionId: s.sessionId, userId: s.userId, app: s.app, stack }))));
    const removed = await Promise.all(sessions.map((s) => remover.removeSessionContainers(s.sessionId)));
    expect(removed).toEqual(sessions.map(() => 1));
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(SESSION_REMOVALS_AT_ONCE);
    for (const s of sessions) expect(await sessionContainers(s.sessionId)).toEqual([]);
  });

  it('reports a missing image as the permanent ImageMissingError', async () => {
    const s = spec({ image: 'hackstream/no-such-image:never' });
    await expect(start(s)).rejects.toBeInstanceOf(ImageMissingError);
    expect(await sessionContainers(s.sessionId)).toHaveLength(0);
  });
});
