/**
 * Copies images of this host's Docker engine into another engine's store (its data root, e.g. on
 * a test VM's disk before the machine boots: `docker load` inside an emulated machine takes
 * minutes). A second dockerd, of this host's version, with its data root there and the platform's
 * user-namespace remapping (its images live under the remapped root's folder, where the
 * machine's engine looks), loads them and stops. It runs in a network namespace of its own: a
 * dockerd started without its default bridge deletes an existing docker0, the host engine's.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { until } from './until.js';

const run = promisify(execFile);

/** Loads `images` (names with their tags) from this host's engine into the store at `dataRoot`. */
export async function copyImagesToEngineStore(dataRoot: string, images: string[]): Promise<void> {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'hs-engine-store-'));
  const socket = `unix://${path.join(runDir, 'docker.sock')}`;
  // No settings but these: the host's daemon.json is the host engine's (its data root, its sockets).
  const config = path.join(runDir, 'daemon.json');
  writeFileSync(config, '{}');
  const dockerd = spawn('unshare', [
    '--net', 'dockerd', '--config-file', config, '--data-root', dataRoot, '--exec-root', path.join(runDir, 'exec'),
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
  } finally {
    dockerd.kill('SIGTERM');
    await exited;
    rmSync(runDir, { recursive: true, force: true });
  }
}
