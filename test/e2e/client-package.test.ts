/**
 * The client's Debian package and its signed apt repository (client/packaging/), as a user gets
 * them: lintian-clean, installed in a clean Debian bookworm container from the repository with
 * apt checking the signature (and refusing a repository signed by another key), Debian's own
 * nodejs, xpra and zenity pulled in, the CLI logging in and launching a session against the real
 * stack, and a purge that leaves nothing behind.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, lstatSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import {
  APT_REPO_DIR,
  Box,
  buildClientRepo,
  CLIENT_DEB,
  CLIENT_VERSION,
  ensureCleanBookwormImage,
  KEYRING_NAME,
  resignedByAnotherKey,
  run,
} from '../support/client-package.js';

const stack = inject('stack');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'hs-client-pkg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// The user's first step: trust the archive key and add the repository (here a local copy,
// mounted read-only), before apt may read anything from it.
const addSource = (uri: string) => `
cp /repo/${KEYRING_NAME} /usr/share/keyrings/${KEYRING_NAME}
cat > /etc/apt/sources.list.d/hackstream-bootstrap.sources <<EOF
Types: deb
URIs: ${uri}
Suites: stable
Components: main
Signed-By: /usr/share/keyrings/${KEYRING_NAME}
EOF
`;

beforeAll(async () => {
  await buildClientRepo();
}, 300_000);

describe('the hackstream .deb', () => {
  let root: string;
  beforeAll(async () => {
    root = path.join(tmp, 'deb');
    const x = await run('dpkg-deb', ['-x', CLIENT_DEB, root]);
    expect(x.code, x.stderr).toBe(0);
  });

  it('is lintian-clean, pedantic tags included (what remains is overridden in the package, with a reason)', async () => {
    const res = await run('lintian', ['--pedantic', '--display-info', '--display-experimental', '--fail-on', 'error,warning,info,pedantic,experimental', CLIENT_DEB], {
      timeoutMs: 120_000,
    });
    expect(res.stdout.trim()).toBe('');
    expect(res.code, res.stderr).toBe(0);
  }, 150_000);

  it('has desktop entries that validate: the launcher, and the hidden hackstream:// link handler', async () => {
    const dir = path.join(root, 'usr/share/applications');
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['hackstream-open.desktop', 'hackstream.desktop']);
    const res = await run('desktop-file-validate', files.map((f) => path.join(dir, f)));
    expect(res.stdout + res.stderr).toBe('');
    expect(res.code).toBe(0);
    const launcher = readFileSync(path.join(dir, 'hackstream.desktop'), 'utf8');
    expect(launcher).toMatch(/^Exec=hackstream gui$/m);
    expect(launcher).toMatch(/^Icon=hackstream$/m);
    const handler = readFileSync(path.join(dir, 'hackstream-open.desktop'), 'utf8');
    expect(handler).toMatch(/^Exec=hackstream open %u$/m);
    expect(handler).toMatch(/^MimeType=x-scheme-handler\/hackstream;$/m);
    expect(handler).toMatch(/^NoDisplay=true$/m);
  });

  it('runs the bundle on Debian\'s Node.js and ships the repository\'s source (a conffile) and key', async () => {
    const field = async (name: string) => (await run('dpkg-deb', ['-f', CLIENT_DEB, name])).stdout.trim();
    expect(await field('Package')).toBe('hackstream');
    expect(await field('Version')).toBe(CLIENT_VERSION);
    expect(await field('Architecture')).toBe('all');
    expect(await field('Depends')).toBe('nodejs (>= 18.19), xpra, python3-gi-cairo, zenity');

    const bundle = path.join(root, 'usr/share/hackstream/hackstream.cjs');
    expect(statSync(bundle).mode & 0o777).toBe(0o755);
    expect(readFileSync(bundle, 'utf8').split('\n')[0]).toBe('#!/usr/bin/node');
    expect(lstatSync(path.join(root, 'usr/bin/hackstream')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path.join(root, 'usr/bin/hackstream'))).toBe('../share/hackstream/hackstream.cjs');
    for (const f of ['usr/share/icons/hicolor/scalable/apps/hackstream.svg', 'usr/share/man/man1/hackstream.1.gz', 'usr/share/doc/hackstream/copyright']) {
      expect(statSync(path.join(root, f)).isFile(), f).toBe(true);
    }

    const sources = readFileSync(path.join(root, 'etc/apt/sources.list.d/hackstream.sources'), 'utf8');
    expect(sources).toMatch(/^Types: deb$/m);
    expect(sources).toMatch(/^URIs: https?:\/\/\S+$/m);
    expect(sources).toMatch(/^Suites: stable$/m);
    expect(sources).toMatch(/^Components: main$/m);
    expect(sources).toMatch(new RegExp(`^Signed-By: /usr/share/keyrings/${KEYRING_NAME}$`, 'm'));
    const control = path.join(tmp, 'control');
    await run('dpkg-deb', ['-e', CLIENT_DEB, control]);
    expect(readFileSync(path.join(control, 'conffiles'), 'utf8').trim()).toBe('/etc/apt/sources.list.d/hackstream.sources');
    // The package trusts exactly the key the repository is signed with.
    expect(readFileSync(path.join(root, 'usr/share/keyrings', KEYRING_NAME)).equals(readFileSync(path.join(APT_REPO_DIR, KEYRING_NAME)))).toBe(true);
  });
});

describe('installed from the signed apt repository in a clean Debian bookworm', () => {
  let t: ApiUnderTest;
  let box: Box;
  let otherKey: string;
  let installedFiles: string[] = [];
  beforeAll(async () => {
    // The API serves the repository at /apt/ through the ingress, as it does for devices.
    t = await startApiUnderTest({ HACKSTREAM_APT_REPO_DIR: APT_REPO_DIR });
    otherKey = resignedByAnotherKey(APT_REPO_DIR);
    // Host network: the CLI reaches the ingress on this host's loopback, like a user's machine.
    box = Box.start(ensureCleanBookwormImage(), {
      network: 'host',
      mounts: { [APT_REPO_DIR]: '/repo', [path.join(otherKey, 'repo')]: '/other-repo', [stack.caFile]: '/ca.pem' },
    });
  }, 600_000);
  afterAll(async () => {
    box?.remove();
    if (otherKey) rmSync(otherKey, { recursive: true, force: true });
    await t?.close();
  });

  it('refuses the repository when another key signed it', async () => {
    const res = await box.sh(`${addSource('file:/other-repo')}
      apt-get update -q 2>&1 && exit 0 || code=$?
      echo "apt-get update exited $code"
      apt-cache policy hackstream`, { timeoutMs: 180_000 });
    expect(res.stdout).toMatch(/NO_PUBKEY|not signed/);
    expect(res.stdout).toMatch(/apt-get update exited [1-9]/);
    expect(res.stdout).not.toMatch(/Candidate: \d/);
  }, 200_000);

  it('installs hackstream from it through the ingress, pulling nodejs 18, xpra and zenity from Debian', async () => {
    const uri = `https://localhost:${stack.ingressPort}/apt/`;
    // apt trusts the ingress's certificate through the HackStream CA (the signatures are checked regardless).
    const res = await box.sh(`echo 'Acquire::https::localhost::CaInfo "/ca.pem";' > /etc/apt/apt.conf.d/60hackstream
      ${addSource(uri)}
      if command -v node; then echo "node is installed already: not a clean system"; exit 1; fi
      apt-get update -q 2>&1
      apt-cache policy hackstream
      # --no-install-recommends: the Depends alone must make a working client (and it is faster).
      apt-get install -y -q --no-install-recommends hackstream >/tmp/install.log 2>&1 || { tail -n 40 /tmp/install.log; exit 1; }
      # From here on the package's own source (and key) stand for the repository.
      rm /etc/apt/sources.list.d/hackstream-bootstrap.sources
      echo "node $(node --version)"
      echo "hackstream $(hackstream --version)"
      for p in nodejs xpra zenity; do dpkg-query -W -f='\${Package} \${Status}\\n' $p; done
      # The key the package installed verifies the repository it came from.
      gpgv --keyring /usr/share/keyrings/${KEYRING_NAME} /repo/dists/stable/InRelease 2>&1 && echo "InRelease verified"`, { timeoutMs: 420_000 });
    expect(res.code, res.stdout + res.stderr).toBe(0);
    // Warnings about Debian's mirror are not this test's business; any about our repository are.
    expect(res.stdout).not.toMatch(/^(W|E): .*localhost/m);
    expect(res.stdout).toMatch(new RegExp(`Get:\\d+ ${uri.replace(/\/$/, '').replace(/[./]/g, '\\$&')} stable InRelease`));
    expect(res.stdout).toMatch(new RegExp(`Candidate: ${CLIENT_VERSION.replace(/\./g, '\\.')}`));
    expect(res.stdout).toMatch(/^node v18\./m);
    expect(res.stdout).toMatch(new RegExp(`^hackstream ${CLIENT_VERSION.replace(/\./g, '\\.')}$`, 'm'));
    for (const p of ['nodejs', 'xpra', 'zenity']) expect(res.stdout).toMatch(new RegExp(`^${p} install ok installed$`, 'm'));
    expect(res.stdout).toMatch(/InRelease verified/);

    const list = await box.sh('dpkg -L hackstream');
    expect(list.code).toBe(0);
    installedFiles = list.stdout.split('\n').filter((p) => p && p !== '/.');
    expect(installedFiles).toContain('/usr/bin/hackstream');
    expect(installedFiles).toContain('/etc/apt/sources.list.d/hackstream.sources');
  }, 450_000);

  it('logs in and launches a browser session against the stack', async () => {
    const user = await t.newUser();
    const server = `https://localhost:${stack.ingressPort}`;
    const login = await box.sh(`hackstream login --server ${server} --username ${user.username} --password-stdin --ca /ca.pem`, { input: `${user.password}\n` });
    expect(login.code, login.stdout + login.stderr).toBe(0);

    const launched = await box.sh('hackstream launch browser --no-attach --json', { timeoutMs: 120_000 });
    expect(launched.code, launched.stdout + launched.stderr).toBe(0);
    const session = JSON.parse(launched.stdout);
    try {
      expect(session.session_id).toEqual(expect.any(String));
      expect(session.state).toBe('ready');
    } finally {
      const stopped = await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: user.token });
      expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
    }
  }, 180_000);

  it('purges without leaving a file behind, its apt source included', async () => {
    expect(installedFiles.length).toBeGreaterThan(0);
    const res = await box.sh(`apt-get purge -y -q hackstream >/tmp/purge.log 2>&1 || { cat /tmp/purge.log; exit 1; }
      dpkg-query -W -f='\${db:Status-Abbrev}\\n' hackstream 2>/dev/null || echo "hackstream: no trace in dpkg"
      # A file of the package that is still there, or a directory no other package owns.
      while read -r p; do
        if [ -L "$p" ] || [ -f "$p" ]; then echo "left behind: $p"
        elif [ -d "$p" ] && ! dpkg -S "$p" >/dev/null 2>&1; then echo "left behind: $p/ ($(ls -A "$p" | head -n 3 | tr '\\n' ' '))"
        fi
      done`, { input: `${installedFiles.join('\n')}\n`, timeoutMs: 120_000 });
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toMatch(/hackstream: no trace in dpkg|^un /m);
    expect(res.stdout.split('\n').filter((l) => l.startsWith('left behind'))).toEqual([]);
    const gone = await box.sh('test ! -e /etc/apt/sources.list.d/hackstream.sources && test ! -e /usr/share/keyrings/hackstream-archive-keyring.gpg');
    expect(gone.code).toBe(0);
  }, 150_000);
});
