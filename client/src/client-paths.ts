/**
 * Where the client keeps its files, after the XDG base directory specification:
 * - settings: $XDG_CONFIG_HOME/hackstream/config (default ~/.config/hackstream/config);
 * - tokens: $XDG_CONFIG_HOME/hackstream/tokens.json (mode 0600; refresh and access tokens only);
 * - pinned server CAs: $XDG_CONFIG_HOME/hackstream/trust/<host>_<port>.pem;
 * - state (recent URLs, the xpra client's log): $XDG_STATE_HOME/hackstream (default ~/.local/state);
 * - one-time xpra passwords: $XDG_RUNTIME_DIR/hackstream (/tmp/hackstream-<uid>, checked to be
 *   the user's own, without one).
 */
import os from 'node:os';
import path from 'node:path';

export interface ClientPaths {
  configDir: string;
  configFile: string;
  tokensFile: string;
  trustDir: string;
  stateDir: string;
  runtimeDir: string;
}

type Env = Record<string, string | undefined>;

/** An XDG variable counts only when it holds an absolute path (the specification's rule). */
function xdg(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value && path.isAbsolute(value) ? value : fallback;
}

export function clientPaths(env: Env = process.env): ClientPaths {
  const home = env['HOME'] && path.isAbsolute(env['HOME']) ? env['HOME'] : os.homedir();
  const configDir = path.join(xdg(env, 'XDG_CONFIG_HOME', path.join(home, '.config')), 'hackstream');
  const stateDir = path.join(xdg(env, 'XDG_STATE_HOME', path.join(home, '.local', 'state')), 'hackstream');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  const runtimeBase = env['XDG_RUNTIME_DIR'] && path.isAbsolute(env['XDG_RUNTIME_DIR']) ? env['XDG_RUNTIME_DIR'] : undefined;
  // Without a runtime directory: one of our own in /tmp (ensurePrivateDir checks it is ours).
  const runtimeDir = runtimeBase ? path.join(runtimeBase, 'hackstream') : path.join(os.tmpdir(), `hackstream-${uid}`);
  return {
    configDir,
    configFile: path.join(configDir, 'config'),
    tokensFile: path.join(configDir, 'tokens.json'),
    trustDir: path.join(configDir, 'trust'),
    stateDir,
    runtimeDir,
  };
}
