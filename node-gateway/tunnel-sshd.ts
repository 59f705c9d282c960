/**
 * The edge nodes' tunnel server: an OpenSSH sshd of the gateway's own (not the host's), on
 * loopback, which nodes reach only through the gateway's mutual TLS (ALPN `ssh`). Its
 * configuration and authorized keys are written from the node registry (core/node-tunnel.ts):
 * each approved node's key may open one reverse listener, its own port. The gateway runs it as a
 * child, restarts it if it dies, and rewrites its keys whenever it looks at the registry, so an
 * approval takes effect within that time and a revocation stops new logins at once (the gateway
 * closes the revoked node's open tunnel).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { writeFileAtomically } from '../core/atomic-file.js';
import { logLines, stopChild } from '../core/child-process.js';
import type { Logger } from '../core/logger.js';
import type { NodeRegistry } from '../core/node-registry.js';
import { authorizedKeys, tunnelSshdConfig, type TunnelHostKey } from '../core/node-tunnel.js';

export const SSHD = '/usr/sbin/sshd';
/** A crashed sshd is started again after this. */
const RESTART_MS = 2000;

export interface TunnelSshdOptions {
  /** Its private directory (configuration, authorized keys, pid file). */
  dir: string;
  port: number;
  /** The account the tunnels log in as (HACKSTREAM_NODE_TUNNEL_USER). */
  user: string;
  hostKey: Pick<TunnelHostKey, 'publicKey' | 'file'>;
  registry: Pick<NodeRegistry, 'tunnelNodes'>;
  logger: Logger;
}

export class TunnelSshd {
  private child: ChildProcess | undefined;
  private stopping = false;
  private lastKeys: string | undefined;
  private readonly files: { config: string; keys: string; pid: string };

  constructor(private readonly opts: TunnelSshdOptions) {
    this.files = { config: path.join(opts.dir, 'sshd_config'), keys: path.join(opts.dir, 'authorized_keys'), pid: path.join(opts.dir, 'sshd.pid') };
  }

  /** Writes its files and starts sshd; rejects when sshd refuses its configuration. */
  async start(): Promise<void> {
    const asRoot = process.getuid?.() === 0;
    if (!asRoot && userInfo().username !== this.opts.user) {
      throw new Error(`an sshd not run as root logs in only its own user: set HACKSTREAM_NODE_TUNNEL_USER=${userInfo().username}, the gateway's user`);
    }
    await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
    // A root sshd's privilege separation directory (Debian's own sshd service makes it at boot).
    if (asRoot) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    await this.opts.hostKey.publicKey();
    await this.refresh();
    const config = tunnelSshdConfig({ port: this.opts.port, hostKeyFile: this.opts.hostKey.file, authorizedKeysFile: this.files.keys, pidFile: this.files.pid, user: this.opts.user, asRoot });
    await writeFileAtomically(this.files.config, config, { mode: 0o600 });
    await this.stopLeftover();
    const test = await this.run(['-t', '-f', this.files.config]);
    if (test.code !== 0) throw new Error(`sshd refused the tunnel's configuration: ${test.output.trim()}`);
    this.launch();
  }

  /** Rewrites the authorized keys from the registry (only when they changed). */
  async refresh(): Promise<void> {
    const keys = authorizedKeys(await this.opts.registry.tunnelNodes());
    if (keys === this.lastKeys) return;
    await writeFileAtomically(this.files.keys, keys, { mode: 0o600 });
    this.lastKeys = keys;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await stopChild(this.child);
  }

  /** An sshd of this directory that a killed gateway left running holds the port: it goes first. */
  private async stopLeftover(): Promise<void> {
    const pid = Number((await readFile(this.files.pid, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 1) return;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    // sshd rewrites its title (`sshd: /usr/sbin/sshd … -f <config> [listener]`): the path is in it either way.
    if (!cmdline.includes(this.files.config)) return;
    this.opts.logger.warn('stopping the tunnel sshd an earlier gateway left running', { pid });
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 40 && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) !== ''; i++) await new Promise((r) => setTimeout(r, 250));
  }

  private launch(): void {
    // -D: stays in the foreground, our child; -e: its log on stderr, into the gateway's log.
    const child = spawn(SSHD, ['-D', '-e', '-f', this.files.config], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    logLines(child.stderr, (line) => this.opts.logger.info('tunnel sshd', { line }));
    child.on('error', (err) => this.opts.logger.error('cannot run the tunnel sshd (Debian package openssh-server)', { error: err.message }));
    child.on('exit', (code, signal) => {
      if (this.stopping) return;
      this.opts.logger.error('the tunnel sshd exited; starting it again', { code, signal });
      setTimeout(() => {
        if (!this.stopping) this.launch();
      }, RESTART_MS).unref();
    });
  }

  private run(args: string[]): Promise<{ code: number; output: string }> {
    return new Promise((resolve) => {
      const child = spawn(SSHD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('error', (err) => resolve({ code: 1, output: `cannot run ${SSHD} (Debian package openssh-server): ${err.message}` }));
      child.on('close', (code) => resolve({ code: code ?? 1, output }));
    });
  }
}
