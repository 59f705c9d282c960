/**
 * A virtual machine whose power a test can cut: QEMU with Debian's kernel and the init of
 * tools/test-vm (built by stack/test.sh), the host's files read-only over 9p, and one disk image
 * of its own that lasts from boot to boot, as a host's disk does. Each boot runs one shell script
 * in the host's files (`boot`); when the script ends, the machine shuts down as an orderly host
 * does (its processes stopped, every file system unmounted); `powerCut` kills it instead, and
 * the disk keeps what the machine's kernel had written to it by then and nothing else, as after
 * a loss of power.
 *
 * Its root (`root`): `files`, the host's files read-only (the script runs in a chroot of them, the
 * disk mounted at `diskMount`); or `overlay`, a host of its own for a whole platform: the host's
 * files under a writable layer kept on the disk (what the machine writes, its Docker engine's
 * state and the platform's data directory included, lasts from boot to boot), every module of its
 * kernel, user namespaces (the engine's remapping), and the disk at `/run/vm/disk`.
 *
 * Emulated (TCG), not KVM: these hosts offer /dev/kvm, but a nested guest hangs there before its
 * kernel prints a line, while an emulated one boots in seconds.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './paths.js';
import { until } from './until.js';

const VM_DIR = process.env.HACKSTREAM_TEST_VM_DIR ?? path.join(REPO_ROOT, '.tools', 'test-vm');
/** What the machine's init prints on the console (tools/test-vm/init.sh). */
const BOOTED = 'hs-vm: booted';
const ORDERLY_END = 'hs-vm: powering off';
/** How a program in the machine reports to the test: one console line, this and JSON. */
const REPORT = 'HS-VM-REPORT ';
// From the last unmount to the loop device's release: the kernel frees it after umount returns.
const DISK_FREE_TIMEOUT_MS = 60_000;

/** `s` as one word of the shell scripts `boot` runs. */
export const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** The line a program in the machine prints to report `value` (`reportOf` reads it back). */
export const reportLine = (value: unknown): string => `${REPORT}${JSON.stringify(value)}\n`;

/** What a program in the machine reported on this console (`reportLine`). */
export function reportOf(console: string): Record<string, unknown> {
  const line = console.split(/\r?\n/).find((l) => l.startsWith(REPORT));
  if (!line) throw new Error(`nothing in the machine reported; its console:\n${console}`);
  return JSON.parse(line.slice(REPORT.length)) as Record<string, unknown>;
}

export interface VmBoot {
  /** Resolves with what a program in the machine reported (`reportLine`); fails if the machine stops first or after `timeoutMs`. */
  report(timeoutMs: number): Promise<Record<string, unknown>>;
  /** Resolves once the machine has stopped by itself: whether it shut down in order, and its console. */
  stopped(timeoutMs: number): Promise<{ orderly: boolean; console: string }>;
  /** Kills the machine where it stands (SIGKILL to QEMU): a loss of power. */
  powerCut(): Promise<void>;
}

export interface TestVmOptions {
  /** The disk's size (a sparse file). Default 512. */
  diskMb?: number;
  /** The machine's memory. Default 1024. */
  memoryMb?: number;
  /** Default `files` (see above). */
  root?: 'files' | 'overlay';
}

export class TestVm {
  /** The folder the machine sees at the same path: its scripts, and `disk/` where its disk is mounted. */
  readonly dir: string;
  /** Where the machine's disk is mounted while it runs (an empty folder on the host). */
  readonly diskMount: string;
  /** Where the running machine sees its disk. */
  readonly diskInGuest: string;
  private readonly diskImage: string;
  private readonly memoryMb: number;
  private readonly root: 'files' | 'overlay';
  private running: ChildProcess | null = null;

  constructor({ diskMb = 512, memoryMb = 1024, root = 'files' }: TestVmOptions = {}) {
    for (const file of ['vmlinuz', 'initramfs.gz']) {
      const found = path.join(VM_DIR, file);
      if (!existsSync(found)) throw new Error(`${found} not found: run stack/test.sh (tools/test-vm/build.sh) or set HACKSTREAM_TEST_VM_DIR`);
    }
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'hs-vm-'));
    this.diskMount = path.join(this.dir, 'disk');
    this.diskImage = path.join(this.dir, 'disk.ext4');
    this.diskInGuest = root === 'overlay' ? '/run/vm/disk' : this.diskMount;
    this.memoryMb = memoryMb;
    this.root = root;
    mkdirSync(this.diskMount);
    writeFileSync(this.diskImage, '');
    truncateSync(this.diskImage, diskMb * 1024 * 1024);
    execFileSync('mkfs.ext4', ['-q', '-F', this.diskImage]);
  }

  /** Boots the machine to run `script` (sh) as root in the host's files, with the disk mounted at `diskMount`. */
  boot(script: string): VmBoot {
    if (this.running) throw new Error('the machine is already running');
    writeFileSync(path.join(this.dir, 'run.sh'), script);
    // One processor: emulating a second would take the other core from the suite's other lane.
    const qemu = spawn('qemu-system-x86_64', [
      '-accel', 'tcg', '-cpu', 'max', '-m', String(this.memoryMb), '-smp', '1',
      '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
      '-kernel', path.join(VM_DIR, 'vmlinuz'), '-initrd', path.join(VM_DIR, 'initramfs.gz'),
      '-append', `console=ttyS0 quiet panic=-1 hs.dir=${this.dir} hs.root=${this.root} hs.modules=${path.join(VM_DIR, 'modules')}`,
      // writeback: what the guest wrote reaches the host's page cache at once, so a SIGKILL of QEMU
      // loses only what the guest's own kernel still held: a loss of the guest's power.
      '-drive', `file=${this.diskImage},format=raw,if=virtio,cache=writeback`,
      '-virtfs', 'local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.running = qemu;
    let output = '';
    qemu.stdout.on('data', (d: Buffer) => (output += d.toString()));
    qemu.stderr.on('data', (d: Buffer) => (output += d.toString()));
    // Closed: exited, and everything it printed read.
    let closed = false;
    const exited = new Promise<void>((resolve) => qemu.once('close', () => {
      closed = true;
      this.running = null;
      resolve();
    }));
    // A whole line: the report is complete once its newline is there.
    const reported = () => new RegExp(`^${REPORT}.*\\r?\\n`, 'm').test(output);
    const waitUntil = (what: string, done: () => boolean, timeoutMs: number) =>
      until(what, () => (done() ? true : null), timeoutMs, 100).catch((err: Error) => {
        throw new Error(`${err.message}; its console:\n${output}`);
      });
    return {
      report: async (timeoutMs) => {
        await waitUntil('the test VM to report', () => reported() || closed, timeoutMs);
        if (!reported()) throw new Error(`the test VM stopped before it reported; its console:\n${output}`);
        return reportOf(output);
      },
      stopped: async (timeoutMs) => {
        await waitUntil('the test VM to stop', () => closed, timeoutMs);
        return { orderly: output.includes(BOOTED) && output.includes(ORDERLY_END), console: output };
      },
      powerCut: async () => {
        qemu.kill('SIGKILL');
        await exited;
      },
    };
  }

  /**
   * Runs `fill` with the path of the disk's image while the machine is off, and returns once no
   * loop device holds the image: its file system unmounted everywhere and its writes in the
   * image, which the machine then boots from. `fill` mounts it in a mount namespace of its own
   * (`unshare --mount`): a mount in this host's namespace is copied into every namespace made
   * meanwhile (a browser under `ip netns exec`, a container being set up), where it stays mounted,
   * its writes unflushed, after its umount here; the machine would then boot from a disk still
   * mounted on the host, without the last of what `fill` wrote.
   */
  async fillDisk(fill: (diskImage: string) => Promise<void>): Promise<void> {
    if (this.running) throw new Error('the machine is running');
    await fill(this.diskImage);
    const holders = () => execFileSync('losetup', ['-j', this.diskImage], { encoding: 'utf8' }).trim();
    await until('the disk to be unmounted everywhere', () => (holders() === '' ? true : null), DISK_FREE_TIMEOUT_MS, 100)
      .catch((err: Error) => Promise.reject(new Error(`${err.message}: still held by ${holders()}`)));
  }

  /** Kills a machine still running and removes the folder with its disk. */
  async dispose(): Promise<void> {
    if (this.running) {
      const proc = this.running;
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('close', r));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
