/**
 * A network namespace of its own for Chromium on the Docker host.
 *
 * On the host itself, Chromium sees every Docker network that comes or goes (a pool refill,
 * another test's session stopping, a test node's links) and aborts the requests and WebSockets it
 * has in flight with ERR_NETWORK_CHANGED, which no user on another machine ever sees. In a
 * namespace with only loopback there is nothing to see. What the browser reaches, it reaches
 * through listeners on that loopback, each handing its connections to a Unix socket of this
 * process (the file system is shared), which connects on the host.
 *
 * Namespaces are named `hs-browser-<pid>-<n>`: one whose process is gone (a test run killed) is
 * removed by the next one made on this machine.
 */
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forwardFromNamespace } from './namespace-forwarder.js';
import { chromiumPath } from './paths.js';

const PREFIX = 'hs-browser-';

export interface BrowserNamespace {
  /** An executable that runs Debian's Chromium inside the namespace, for playwright's `executablePath`. */
  chromium: string;
  /** A path for a Unix socket of this process, in the namespace's own directory. */
  socketPath(name: string): string;
  /** Listens on 127.0.0.1:`port` inside the namespace; each connection goes to the Unix socket `sock`. */
  forward(port: number, sock: string): Promise<void>;
  /** Stops the listeners, deletes the namespace and its directory. */
  close(): void;
}

let made = 0;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes the namespaces this prefix left behind by processes that are gone. */
function removeOrphans(): void {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  for (const name of listed.split('\n').map((line) => line.split(' ')[0] ?? '')) {
    const owner = name.startsWith(PREFIX) ? Number(name.slice(PREFIX.length).split('-')[0]) : NaN;
    if (!Number.isInteger(owner) || alive(owner)) continue;
    for (const pid of spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
      spawnSync('kill', ['-9', pid]);
    }
    spawnSync('ip', ['netns', 'delete', name]);
  }
}

export function createBrowserNamespace(): BrowserNamespace {
  removeOrphans();
  const name = `${PREFIX}${process.pid}-${made++}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-netns-'));
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  const chromium = path.join(dir, 'chromium');
  writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${name} ${chromiumPath()} "$@"\n`);
  chmodSync(chromium, 0o755);
  const forwarders: ChildProcess[] = [];
  return {
    chromium,
    socketPath: (file) => path.join(dir, file),
    async forward(port, sock) {
      forwarders.push((await forwardFromNamespace(name, { host: '127.0.0.1', port }, sock)).forwarder);
    },
    close() {
      for (const child of forwarders) child.kill('SIGKILL');
      spawnSync('ip', ['netns', 'delete', name]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
