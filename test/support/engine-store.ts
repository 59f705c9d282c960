/**
 * Copies images of this host's Docker engine into another engine's store on a disk image (a test
 * VM's, before the machine boots: `docker load` inside an emulated machine takes minutes). A
 * second dockerd, of this host's version, with its data root on that disk and the platform's
 * user-namespace remapping (its images live under the remapped root's folder, where the
 * machine's engine looks), loads them and stops. It runs in namespaces of its own: a network
 * namespace, because a dockerd started without its default bridge deletes an existing docker0,
 * the host engine's; a mount namespace where it mounts the disk, so that the mount ends with it
 * (test/support/test-vm.ts, `fillDisk`).
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { until } from './until.js';

const run = promisify(execFile);

/** Loads `images` (names with their tags) from this host's engine into the store in `folder` of the ext4 `diskImage`. */
export async function copyImagesToEngineStore(diskImage: string, folder: string, images: string[]): Promise<void> {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'hs-engine-store-'));
  // The remapped root passes through to its store on the disk mounted below.
  chmodSync(runDir, 0o711);
  const mountAt = path.join(runDir, 'disk');
  mkdirSync(mountAt);
  const socket = `unix://${path.join(runDir, 'docker.sock')}`;
  // No settings but these: the host's daemon.json is the host engine's (its data root, its sockets).
  const config = path.join(runDir, 'daemon.json');
  writeFileSync(config, '{}');
  const dockerd = spawn('unshare', [
    '--net', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -o loop "$0" "$1" && shift && exec dockerd "$@"', diskImage, mountAt,
    '--config-file', config, '--data-root', path.join(mountAt, folder), '--exec-root', path.join(runDir, 'exec'),
    '--pidfile', path.join(runDir, 'dockerd.pid'), '--host', socket, '--userns-remap=default',
    '--bridge=none', '--iptables=false', '--ip-masq=false',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  dockerd.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => dockerd.once('close', () => resolve()));
  try {
    const answered = await until('the loading engine to answer', () =>
      (dockerd.exitCode !== null ? false : run('docker', ['--host', socket, 'info']).then(() => true)), 60_000, 250)
      .catch((err: Error) => Promise.reject(new Error(`${err.message}; its log:\n${log}`)));
    if (!answered) throw new Error(`the loading engine exited at its start; its log:\n${log}`);
    await run('bash', ['-o', 'pipefail', '-c', 'docker save "$@" | docker --host "$0" load --quiet', socket, ...images]);
    // Each by its name, as the machine's engine will look for it.
    await run('docker', ['--host', socket, 'image', 'inspect', '--format', '{{.Id}}', ...images]);
  } finally {
    dockerd.kill('SIGTERM');
    await exited;
    rmSync(runDir, { recursive: true, force: true });
  }
}
