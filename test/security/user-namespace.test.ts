/**
 * Security hardening, point 3: a session runs in the Docker engine's user namespace. Its
 * processes and the files the worker writes for it belong to ids of a subordinate range, which
 * no host account has: seen from the host (the processes' uids, the files' owners, the
 * container's uid map), from inside (its user is still uid 1000 and reads its files), and as the
 * host's uid 1000 (which on many machines is a login user): it reads none of the session's files.
 * The container comes from the real runtime and the files from SessionFiles, owned the way the
 * worker owns them (worker/user-namespace.ts).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SESSION_UID } from '../../activities/session-files.js';
import { subordinateId } from '../../worker/user-namespace.js';
import { docker, execIn, waitForApp } from '../support/docker.js';
import { sessionContainerKit } from '../support/session-container.js';
import { testSessionSpec } from '../support/session-spec.js';

const kit = await sessionContainerKit('userns', '10.214.3.0/24');
const { runtime, image } = kit;
const sessionId = randomUUID();

afterAll(async () => {
  await kit.close([sessionId]);
});

/** Host uids that belong to an account of this host. */
const hostAccounts = new Set(
  readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => Number(line.split(':')[2])),
);

describe("a session in the engine's user namespace", () => {
  it('runs as, and its files belong to, a subordinate id that is no host account; the host uid 1000 reads none of them', async () => {
    const start = subordinateId(readFileSync('/etc/subuid', 'utf8'), 'dockremap', 0);
    expect(start, 'dockremap has no subordinate range: is dockerd running with --userns-remap=default?').not.toBeNull();
    const sessionUid = start! + SESSION_UID;
    expect(hostAccounts.has(sessionUid)).toBe(false);

    const { container, dir } = await kit.start(testSessionSpec(image, { sessionId }));
    await waitForApp(runtime, container.id);

    // From the host: the container's uid map starts at the range, and every one of its
    // processes (xpra, Firefox, ...) runs as the session's subordinate uid.
    const { State } = await docker.getContainer(container.id).inspect();
    expect(readFileSync(`/proc/${State.Pid}/uid_map`, 'utf8').trim().split(/\s+/)).toEqual(['0', String(start), '65536']);
    const top = await docker.getContainer(container.id).top({ ps_args: '-o pid,uid,comm' });
    const uidColumn = top.Titles.indexOf('UID');
    const uids = top.Processes.map((p: string[]) => Number(p[uidColumn]));
    expect(uids.length).toBeGreaterThan(2);
    expect(new Set(uids), JSON.stringify(top.Processes)).toEqual(new Set([sessionUid]));

    // The files written for it: the session's uid and gid, no host account's.
    for (const entry of [dir, ...readdirSync(dir).map((f) => path.join(dir, f))]) {
      const st = statSync(entry);
      expect({ entry, uid: st.uid, gid: st.gid }).toEqual({ entry, uid: sessionUid, gid: subordinateId(readFileSync('/etc/subgid', 'utf8'), 'dockremap', SESSION_UID) });
    }

    // Inside, the session's user is uid 1000 and reads them.
    const inside = await execIn(container.id, ['sh', '-c', 'id -u; cat /run/hackstream/token.pub']);
    expect(inside.output.trim().split('\n')).toEqual([String(SESSION_UID), 'ab'.repeat(32)]);

    // The host's uid 1000 (a login user on many machines) reads none of them.
    for (const f of readdirSync(dir)) {
      let read = true;
      try {
        execFileSync('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', 'cat', path.join(dir, f)], { stdio: 'pipe' });
      } catch (err) {
        read = false;
        expect(String((err as { stderr?: Buffer }).stderr)).toContain('Permission denied');
      }
      expect(read, f).toBe(false);
    }
  });
});
