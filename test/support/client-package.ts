/**
 * The client's Debian package and apt repository as the packaging scripts build them
 * (client/packaging/), and a clean Debian bookworm container to install them in.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './paths.js';
import { collectOutput, type ProcessResult } from './process-output.js';

export const CLIENT_VERSION: string = JSON.parse(readFileSync(path.join(REPO_ROOT, 'client', 'package.json'), 'utf8')).version;
export const CLIENT_DEB = path.join(REPO_ROOT, 'client', 'dist', `hackstream_${CLIENT_VERSION}_all.deb`);
/** Where `npm run package:client-repo` writes the repository, and the API serves it from (the default HACKSTREAM_APT_REPO_DIR). */
export const APT_REPO_DIR = path.join(process.env['HACKSTREAM_DATA_DIR'] ?? path.join(REPO_ROOT, '.data'), 'client-apt', 'repo');
export const KEYRING_NAME = 'hackstream-archive-keyring.gpg';

export type RunResult = ProcessResult;

/** Runs a program to completion without throwing: its exit code and both outputs. */
export function run(cmd: string, args: string[], o: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  const child = spawn(cmd, args, { cwd: o.cwd ?? REPO_ROOT, env: o.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
  return collectOutput(child, o.input, o.timeoutMs ?? 120_000);
}

/** `npm run package:client-repo`: bundle, .deb and signed repository, with this process's settings. */
export async function buildClientRepo(): Promise<string> {
  const res = await run('npm', ['run', '--silent', 'package:client-repo'], { timeoutMs: 300_000 });
  if (res.code !== 0) throw new Error(`npm run package:client-repo failed (${res.code}):\n${res.stdout}${res.stderr}`);
  return res.stdout;
}

/**
 * A copy of the repository signed by a throwaway key instead of the archive key: what apt must
 * refuse. Returns its directory; remove it when done.
 */
export function resignedByAnotherKey(repoDir: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-apt-other-'));
  const repo = path.join(dir, 'repo');
  const gnupg = path.join(dir, 'gnupg');
  cpSync(repoDir, repo, { recursive: true });
  execFileSync('mkdir', ['-m', '700', gnupg]);
  const gpg = (args: string[]) => execFileSync('gpg', ['--batch', '--quiet', '--no-tty', '--homedir', gnupg, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    gpg(['--passphrase', '', '--quick-gen-key', 'Not the HackStream archive key', 'ed25519', 'sign', 'never']);
    const release = path.join(repo, 'dists', 'stable');
    rmSync(path.join(release, 'InRelease'));
    rmSync(path.join(release, 'Release.gpg'));
    gpg(['--clearsign', '-o', path.join(release, 'InRelease'), path.join(release, 'Release')]);
    gpg(['--armor', '--detach-sign', '-o', path.join(release, 'Release.gpg'), path.join(release, 'Release')]);
  } finally {
    execFileSync('gpgconf', ['--homedir', gnupg, '--kill', 'gpg-agent'], { stdio: 'ignore' });
  }
  return dir;
}

const BASE = 'hackstream/debian-base:bookworm';
const APT_PACKAGES = ['nodejs', 'xpra', 'python3-gi-cairo', 'zenity'];
/**
 * A clean bookworm: nothing of the client's dependencies is installed, but their .debs and the
 * package lists are already downloaded, so the test's `apt-get install hackstream` spends its
 * time installing rather than downloading. dpkg skips fsync (the container is thrown away) and
 * man-db skips its index rebuild: installing ~300 packages is most of the test's time.
 */
const recipe = (base: string) => `FROM ${base}
RUN echo force-unsafe-io > /etc/dpkg/dpkg.cfg.d/hackstream-test-unsafe-io \\
 && echo 'man-db man-db/auto-update boolean false' | debconf-set-selections \\
 && apt-get update -q \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --download-only --no-install-recommends ${APT_PACKAGES.join(' ')} \\
 && ! command -v node
`;

const imageId = (tag: string): string | undefined => {
  try {
    return execFileSync('docker', ['image', 'inspect', '-f', '{{.Id}}', tag], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
};

/** Builds the image unless one of the same recipe and base exists (its tag is their hash). */
export function ensureCleanBookwormImage(): string {
  const baseId = imageId(BASE);
  if (!baseId) throw new Error(`${BASE} is missing: run stack/test.sh (it builds the offline base image)`);
  const text = recipe(BASE);
  const tag = `hackstream/client-apt-test:${createHash('sha256').update(text).update(baseId).digest('hex').slice(0, 16)}`;
  if (!imageId(tag)) {
    execFileSync('docker', ['build', '-q', '-t', tag, '-'], { input: text, env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: ['pipe', 'ignore', 'pipe'], timeout: 600_000 });
  }
  return tag;
}

/** A long-running container that test steps run shell scripts in, one `docker exec` each. */
export class Box {
  private constructor(readonly name: string) {}

  static start(image: string, opts: { mounts: Record<string, string>; network?: string }): Box {
    const name = `hs-client-pkg-${process.pid}-${Date.now().toString(36)}`;
    const mounts = Object.entries(opts.mounts).flatMap(([host, inside]) => ['-v', `${host}:${inside}:ro`]);
    // A machine of its own, not a session: outside the engine's user namespace, so it may share
    // the host's network and read the mounted files as their owner.
    execFileSync('docker', ['run', '-d', '--rm', '--userns=host', '--name', name, ...(opts.network ? ['--network', opts.network] : []), ...mounts, image, 'sleep', 'infinity'], { stdio: 'ignore' });
    return new Box(name);
  }

  /** Runs a bash script (set -eu) as root; stdin is `input`. */
  sh(script: string, o: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run('docker', ['exec', '-i', '-e', 'DEBIAN_FRONTEND=noninteractive', this.name, 'bash', '-euc', script], o);
  }

  remove(): void {
    try {
      execFileSync('docker', ['rm', '-f', this.name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}
