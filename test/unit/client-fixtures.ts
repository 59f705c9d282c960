/**
 * Fixtures for the client's unit tests (test/unit/client-*.test.ts): a private set of XDG
 * directories in a temporary directory, and a fake `xpra` executable that records what the real
 * XpraLauncher gave it and exits with scripted codes.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clientPaths, type ClientPaths } from '../../client/src/client-paths.js';

export interface TempHome {
  root: string;
  env: Record<string, string>;
  paths: ClientPaths;
  cleanup(): void;
}

/** HOME and the XDG directories of one test, all under one temporary directory. */
export function tempHome(): TempHome {
  const root = mkdtempSync(path.join(os.tmpdir(), 'hs-client-'));
  const env = {
    HOME: path.join(root, 'home'),
    XDG_CONFIG_HOME: path.join(root, 'config'),
    XDG_STATE_HOME: path.join(root, 'state'),
    XDG_RUNTIME_DIR: path.join(root, 'run'),
  };
  return { root, env, paths: clientPaths(env), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** What one run of the fake xpra saw. */
export interface FakeXpraRun {
  args: string[];
  passwordFile: string;
  /** `stat -c %a` of the password file and of its directory while xpra ran. */
  fileMode: string;
  dirMode: string;
  /** The password file's content. */
  password: string;
  /** Whether the password file still existed a moment after xpra printed "Attached to". */
  afterAttach?: 'gone' | 'present';
}

export interface FakeXpra {
  binary: string;
  runs(): FakeXpraRun[];
}

/**
 * A shell script standing in for `xpra`: run n records its arguments and its --password-file
 * (mode, directory mode, content), prints "Attached to ssl://…" (unless `attach` is false), waits
 * up to three seconds for the password file to disappear, and exits with codes[n-1] (0 past the end).
 */
export function fakeXpra(dir: string, codes: number[], opts: { attach?: boolean } = {}): FakeXpra {
  if (dir.includes("'")) throw new Error(`unusable temporary directory ${dir}`);
  writeFileSync(path.join(dir, 'codes'), codes.map((c) => `${c}\n`).join(''));
  const binary = path.join(dir, 'xpra');
  writeFileSync(
    binary,
    `#!/bin/sh
d='${dir}'
n=$(( $(cat "$d/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$d/count"
pf=''
for a in "$@"; do case "$a" in --password-file=*) pf="\${a#--password-file=}" ;; esac; done
printf '%s\\n' "$@" > "$d/run-$n.args"
echo "$pf" > "$d/run-$n.file"
stat -c %a "$pf" > "$d/run-$n.mode"
stat -c %a "$(dirname "$pf")" > "$d/run-$n.dirmode"
cat "$pf" > "$d/run-$n.password"
if [ '${opts.attach === false ? 'no' : 'yes'}' = yes ]; then
  echo "2025-01-01 12:00:00,000 Attached to $2 (press Control-C to detach)"
  i=0
  while [ -e "$pf" ] && [ $i -lt 300 ]; do sleep 0.01; i=$((i + 1)); done
  if [ -e "$pf" ]; then echo present; else echo gone; fi > "$d/run-$n.after"
fi
code=$(sed -n "\${n}p" "$d/codes")
echo "fake xpra: run $n exits with \${code:-0}" >&2
exit "\${code:-0}"
`,
  );
  chmodSync(binary, 0o755);
  const read = (name: string) => readFileSync(path.join(dir, name), 'utf8');
  return {
    binary,
    runs() {
      const count = existsSync(path.join(dir, 'count')) ? Number(read('count').trim()) : 0;
      return Array.from({ length: count }, (_, i) => {
        const n = i + 1;
        const after = existsSync(path.join(dir, `run-${n}.after`)) ? (read(`run-${n}.after`).trim() as 'gone' | 'present') : undefined;
        return {
          args: read(`run-${n}.args`).split('\n').filter(Boolean),
          passwordFile: read(`run-${n}.file`).trim(),
          fileMode: read(`run-${n}.mode`).trim(),
          dirMode: read(`run-${n}.dirmode`).trim(),
          password: read(`run-${n}.password`),
          ...(after ? { afterAttach: after } : {}),
        };
      });
    },
  };
}
