/**
 * Persistent profiles end to end: the real API, workflow, node worker, Docker and Firefox. What a
 * page stores in Firefox's profile (a site's local storage) is there in the user's next
 * persistent session, and nowhere else; the profile's size is its user's storage quota, which
 * GET /v1/quotas shows and a start over it is refused by; a profile has one session at a time.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { readAppCatalog } from '../../core/app-catalog.js';
import { loadWorkerConfig } from '../../core/config.js';
import { readXpraStatus } from '../../activities/xpra-info.js';
import { sessionWorkflowId } from '../../workflows/messages.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { docker, execIn, sessionContainers } from '../support/docker.js';
import { serveOutside } from '../support/outside-world.js';
import { reconcileNow } from '../support/reconcile-pass.js';
import { appQuitOf } from '../support/session-history.js';

const FIREFOX = readAppCatalog().firefox!;

const stack = inject('stack');
const workerConfig = loadWorkerConfig(stack.env);

/**
 * A site that keeps a note in its local storage: `/save?v=X` stores X, `/read` shows what it
 * finds. Each says what it did in its title, which xpra reports for the window.
 */
const SITE = `<!doctype html><html><head><meta charset="utf-8"><title>loading</title></head><body><script>
const u = new URL(location.href);
if (u.pathname === '/save') { localStorage.setItem('hs-note', u.searchParams.get('v')); document.title = 'saved ' + localStorage.getItem('hs-note'); }
else { document.title = 'read ' + (localStorage.getItem('hs-note') ?? 'nothing'); }
</script></body></html>`;

let t: ApiUnderTest;
let site: { url: string; close(): Promise<void> };

beforeAll(async () => {
  t = await startApiUnderTest();
  site = await serveOutside(stack.outside, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(SITE);
  });
});

afterAll(async () => {
  await site?.close();
  await t?.close();
});

async function containerOf(sessionId: string): Promise<string> {
  const [c] = await sessionContainers(sessionId);
  if (!c) throw new Error(`session ${sessionId} has no container`);
  return c.Id;
}

/** Waits until the page in the session's Firefox has a title that starts with `prefix`; returns it (without Firefox's suffix). */
async function windowTitle(sessionId: string, prefix: string): Promise<string> {
  const id = await containerOf(sessionId);
  let seen: string[] = [];
  for (const until = Date.now() + 60_000; Date.now() < until; ) {
    const { exitCode, output } = await execIn(id, ['xpra', 'info', ':100', '--socket-dir=/tmp/xpra']);
    if (exitCode === 0) {
      seen = readXpraStatus(output).windows.map((w) => w.title.replace(/ [—-] Mozilla Firefox.*$/, ''));
      const found = seen.find((title) => title.startsWith(prefix));
      if (found) return found;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no window titled "${prefix}…" in session ${sessionId} (titles: ${JSON.stringify(seen)})`);
}

/**
 * Whether a file in a profile's (unmounted) image holds the text, as UTF-8 or UTF-16 (how
 * Firefox's local storage may keep it): its files read by debugfs, without mounting it.
 */
function imageHolds(image: string, text: string): boolean {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-profile-files-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('debugfs', ['-R', `rdump / ${dir}`, image], { stdio: 'ignore' });
  const forms = [Buffer.from(text, 'utf8'), Buffer.from(text, 'utf16le')];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .some((entry) => {
      const bytes = readFileSync(path.join(entry.parentPath, entry.name));
      return forms.some((form) => bytes.includes(form));
    });
}

async function start(token: string, body: Record<string, unknown>) {
  return t.call('POST', '/v1/sessions', { token, body: { app: 'firefox', ...body } });
}

const stop = (token: string, sessionId: string) => t.stopAndWait(token, sessionId);

describe('a persistent Firefox profile', () => {
  it("keeps what a site stored for the user's next persistent session; their ephemeral sessions and other users never see it", async () => {
    const alice = await t.newUser();
    const note = randomBytes(6).toString('hex');

    const first = await start(alice.token, { profile: 'persist', url: `${site.url}save?v=${note}` });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body.start).toBe('cold'); // a warm container mounts nobody's profile
    expect(await windowTitle(first.body.session_id, 'saved')).toContain(`saved ${note}`);
    // The container has it where Firefox keeps its data, and nothing of it is on the container's own layers.
    const mounts = (await docker.getContainer(await containerOf(first.body.session_id)).inspect()).Mounts;
    expect(mounts.find((m) => m.Destination === FIREFOX.dataDir)).toMatchObject({ Type: 'bind', RW: true });
    await stop(alice.token, first.body.session_id);
    // Firefox writes its local storage out as it quits: a quit cut short would lose the note.
    expect(await appQuitOf(t.temporal, first.body.session_id)).toMatchObject({ quit: true });
    // The volume on the host: root's file, in a directory only root enters.
    const image = path.join(workerConfig.profilesDir, 'images', alice.id, 'firefox.ext4');
    expect(statSync(image).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(image)).mode & 0o777).toBe(0o700);

    const again = await start(alice.token, { profile: 'persist', url: `${site.url}read` });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(await windowTitle(again.body.session_id, 'read')).toBe(`read ${note}`);
    await stop(alice.token, again.body.session_id);

    const ephemeral = await start(alice.token, { url: `${site.url}read` });
    expect(ephemeral.status, JSON.stringify(ephemeral.body)).toBe(201);
    expect(await windowTitle(ephemeral.body.session_id, 'read')).toBe('read nothing');
    await stop(alice.token, ephemeral.body.session_id);

    const bob = await t.newUser();
    const other = await start(bob.token, { profile: 'persist', url: `${site.url}read` });
    expect(other.status, JSON.stringify(other.body)).toBe(201);
    expect(await windowTitle(other.body.session_id, 'read')).toBe('read nothing');
    await stop(bob.token, other.body.session_id);

    const quotas = await t.call('GET', '/v1/quotas', { token: alice.token });
    expect(quotas.body.usage.profiles).toEqual([expect.objectContaining({ app: 'firefox', size_mb: expect.any(Number) })]);
    expect(quotas.body.usage.storage_mb).toBe(quotas.body.usage.profiles[0].used_mb);
    expect(quotas.body.usage.storage_mb).toBeGreaterThan(0);
  });

  it('is as large as the storage quota: writes beyond it fail in the session, the usage shows, and a start over quota is refused', async () => {
    const admin = await t.newUser('admin');
    const carol = await t.newUser();
    const setQuota = async (storageMb: number) => {
      const res = await t.call('PATCH', `/v1/users/${carol.id}`, { token: admin.token, body: { quota: { storage_mb: storageMb } } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    await setQuota(64);
    const s = await start(carol.token, { profile: 'persist', url: `${site.url}save?v=kept` });
    expect(s.status, JSON.stringify(s.body)).toBe(201);
    await windowTitle(s.body.session_id, 'saved');
    const id = await containerOf(s.body.session_id);
    // The session's own user fills its profile: the file system refuses at its size.
    const fill = await execIn(id, ['dd', 'if=/dev/zero', `of=${FIREFOX.dataDir}/fill`, 'bs=1M', 'count=200']);
    expect(fill.exitCode).not.toBe(0);
    expect(fill.output).toMatch(/No space left on device/);
    // Firefox and the platform go on: the session still answers and stops cleanly.
    expect((await execIn(id, ['xpra', 'info', ':100', '--socket-dir=/tmp/xpra'])).exitCode).toBe(0);
    expect((await t.call('GET', `/v1/sessions/${s.body.session_id}`, { token: carol.token })).body.state).toMatch(/ready|active/);
    await stop(carol.token, s.body.session_id);

    const usage = (await t.call('GET', '/v1/quotas', { token: carol.token })).body.usage;
    expect(usage.storage_mb).toBeGreaterThan(48);
    expect(usage.storage_mb).toBeLessThanOrEqual(64);

    // The admin lowers the quota below what the profile holds: a persistent start is refused, an ephemeral one is not.
    await setQuota(32);
    const refused = await start(carol.token, { profile: 'persist' });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: 'storage_quota_exceeded', limit: 'storage_mb', max: 32, current: usage.storage_mb } });
    expect(refused.body.error.message).toMatch(/use \d+ MB of your 32 MB/);
    const ephemeral = await start(carol.token, {});
    expect(ephemeral.status, JSON.stringify(ephemeral.body)).toBe(201);
    await stop(carol.token, ephemeral.body.session_id);
  });

  it('has one session at a time (409 profile_in_use), free again after a stop and after its workflow was lost and one reconcile', async () => {
    const dave = await t.newUser();
    const both = await Promise.all([start(dave.token, { profile: 'persist' }), start(dave.token, { profile: 'persist' })]);
    const statuses = both.map((r) => r.status).sort();
    expect(statuses, JSON.stringify(both.map((r) => r.body))).toEqual([201, 409]);
    const won = both.find((r) => r.status === 201)!.body;
    const lost = both.find((r) => r.status === 409)!.body;
    expect(lost).toMatchObject({ error: { code: 'profile_in_use', session_id: won.session_id } });
    // Ephemeral sessions of the same user are not held back by it.
    const ephemeral = await start(dave.token, {});
    expect(ephemeral.status, JSON.stringify(ephemeral.body)).toBe(201);
    await stop(dave.token, ephemeral.body.session_id);
    await stop(dave.token, won.session_id);

    const next = await start(dave.token, { profile: 'persist' });
    expect(next.status, JSON.stringify(next.body)).toBe(201);
    // Its workflow is lost (an operator terminated it): nothing tears it down, and the profile stays held...
    await t.temporal.workflow.getHandle(sessionWorkflowId(next.body.session_id)).terminate('operator: temporal workflow terminate');
    expect((await start(dave.token, { profile: 'persist' })).status).toBe(409);
    // ...until one reconcile pass removes the container, unmounts the profile and ends the row.
    const report = await reconcileNow(t.temporal, workerConfig.temporal.taskQueue);
    expect(report.removed.profile).toBeGreaterThanOrEqual(1);
    const after = await start(dave.token, { profile: 'persist' });
    expect(after.status, JSON.stringify(after.body)).toBe(201);
    await stop(dave.token, after.body.session_id);
  });

  it("is backed up and restored as the README says: a copy of its image taken while no session has it brings back what it held", async () => {
    const frank = await t.newUser();
    const [kept, later] = [randomBytes(6).toString('hex'), randomBytes(6).toString('hex')];
    const image = path.join(workerConfig.profilesDir, 'images', frank.id, 'firefox.ext4');
    const backupDir = mkdtempSync(path.join(os.tmpdir(), 'hs-profile-backup-'));
    onTestFinished(() => rmSync(backupDir, { recursive: true, force: true }));
    const backup = path.join(backupDir, 'firefox.ext4');
    const visit = async (page: string, prefix: string) => {
      const s = await start(frank.token, { profile: 'persist', url: `${site.url}${page}` });
      expect(s.status, JSON.stringify(s.body)).toBe(201);
      const title = await windowTitle(s.body.session_id, prefix);
      await stop(frank.token, s.body.session_id);
      return title;
    };

    expect(await visit(`save?v=${kept}`, 'saved')).toContain(`saved ${kept}`);
    execFileSync('cp', ['--sparse=always', image, backup]); // the backup
    // What the session's Firefox wrote is in the copy: its quit and the unmount left it there.
    expect(imageHolds(backup, kept), 'the note in the backup').toBe(true);
    expect(await visit(`save?v=${later}`, 'saved')).toContain(`saved ${later}`);
    execFileSync('cp', ['--sparse=always', backup, image]); // the restore, no session running
    expect(statSync(image).mode & 0o777).toBe(0o600);
    const read = await visit('read', 'read');
    const restored = read === `read ${kept}` || imageHolds(image, kept);
    expect(read, `the note ${restored ? 'is' : 'is not'} in the restored image`).toBe(`read ${kept}`);
  });

  it('is deleted by an admin (audited): refused while a session has it, then gone from its node, and the next session starts anew', async () => {
    const admin = await t.newUser('admin');
    const erin = await t.newUser();
    const note = randomBytes(6).toString('hex');
    const s = await start(erin.token, { profile: 'persist', url: `${site.url}save?v=${note}` });
    expect(s.status, JSON.stringify(s.body)).toBe(201);
    await windowTitle(s.body.session_id, 'saved');

    const listed = await t.call('GET', `/v1/users/${erin.id}/profiles`, { token: admin.token });
    expect(listed.status).toBe(200);
    expect(listed.body.profiles).toEqual([expect.objectContaining({ app: 'firefox', node: expect.any(String) })]);
    expect((await t.call('GET', `/v1/users/${erin.id}/profiles`, { token: erin.token })).status).toBe(403);
    expect((await t.call('DELETE', `/v1/users/${erin.id}/profiles/firefox`, { token: erin.token })).status).toBe(403);
    const busy = await t.call('DELETE', `/v1/users/${erin.id}/profiles/firefox`, { token: admin.token });
    expect(busy.status).toBe(409);
    expect(busy.body.error).toMatchObject({ code: 'profile_in_use', session_id: s.body.session_id });
    // Not an app's name: 400; an app's name without a profile (also of an app the catalog no longer lists): 404.
    expect((await t.call('DELETE', `/v1/users/${erin.id}/profiles/Chrome!`, { token: admin.token })).status).toBe(400);
    expect((await t.call('DELETE', `/v1/users/${erin.id}/profiles/chrome`, { token: admin.token })).status).toBe(404);

    await stop(erin.token, s.body.session_id);
    const image = path.join(workerConfig.profilesDir, 'images', erin.id, 'firefox.ext4');
    expect(statSync(image).isFile()).toBe(true);
    const deleted = await t.call('DELETE', `/v1/users/${erin.id}/profiles/firefox`, { token: admin.token });
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(204);
    expect(() => statSync(image)).toThrow(/ENOENT/);
    expect((await t.call('GET', `/v1/users/${erin.id}/profiles`, { token: admin.token })).body.profiles).toEqual([]);
    expect((await t.call('GET', '/v1/quotas', { token: erin.token })).body.usage.storage_mb).toBe(0);
    expect((await t.call('DELETE', `/v1/users/${erin.id}/profiles/firefox`, { token: admin.token })).status).toBe(404);
    const audit = await t.call('GET', `/v1/audit?action=profile.deleted&user=${erin.id}`, { token: admin.token });
    expect(audit.body.events).toEqual([
      expect.objectContaining({ action: 'profile.deleted', actor_id: admin.id, user_id: erin.id, target_type: 'profile', details: expect.objectContaining({ app: 'firefox', volume_deleted: true }) }),
    ]);

    const fresh = await start(erin.token, { profile: 'persist', url: `${site.url}read` });
    expect(fresh.status, JSON.stringify(fresh.body)).toBe(201);
    expect(await windowTitle(fresh.body.session_id, 'read')).toBe('read nothing');
    await stop(erin.token, fresh.body.session_id);
  });
});
