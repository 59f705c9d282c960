import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientError } from '../../client/src/client-error.js';
import { clientPaths } from '../../client/src/client-paths.js';
import { EXIT } from '../../client/src/exit-codes.js';
import { parseServerUrl, readConfigFile, resolveSettings, setSetting, unsetSetting } from '../../client/src/settings.js';
import { tempHome, type TempHome } from './client-fixtures.js';

const uid = process.getuid!();

function thrown(fn: () => unknown): ClientError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError);
    return err as ClientError;
  }
  throw new Error('expected a ClientError, nothing was thrown');
}

describe('client paths', () => {
  it('follow XDG_CONFIG_HOME, XDG_STATE_HOME and XDG_RUNTIME_DIR when they are absolute', () => {
    const paths = clientPaths({ HOME: '/home/alice', XDG_CONFIG_HOME: '/cfg', XDG_STATE_HOME: '/st', XDG_RUNTIME_DIR: '/run/user/1000' });
    expect(paths).toEqual({
      configDir: '/cfg/hackstream',
      configFile: '/cfg/hackstream/config',
      tokensFile: '/cfg/hackstream/tokens.json',
      trustDir: '/cfg/hackstream/trust',
      stateDir: '/st/hackstream',
      runtimeDir: '/run/user/1000/hackstream',
    });
  });

  it('default to ~/.config, ~/.local/state and a per-user directory under the system tmp when the variables are unset', () => {
    const paths = clientPaths({ HOME: '/home/alice' });
    expect(paths.configFile).toBe('/home/alice/.config/hackstream/config');
    expect(paths.tokensFile).toBe('/home/alice/.config/hackstream/tokens.json');
    expect(paths.stateDir).toBe('/home/alice/.local/state/hackstream');
    expect(paths.runtimeDir).toBe(path.join(os.tmpdir(), `hackstream-${uid}`));
  });

  it('ignore relative and empty XDG variables, as the specification says', () => {
    const relative = clientPaths({ HOME: '/home/bob', XDG_CONFIG_HOME: 'cfg', XDG_STATE_HOME: './state', XDG_RUNTIME_DIR: 'run/user' });
    const empty = clientPaths({ HOME: '/home/bob', XDG_CONFIG_HOME: '', XDG_STATE_HOME: '', XDG_RUNTIME_DIR: '' });
    const unset = clientPaths({ HOME: '/home/bob' });
    expect(relative).toEqual(unset);
    expect(empty).toEqual(unset);
    expect(unset.configDir).toBe('/home/bob/.config/hackstream');
  });

  it("fall back to the account's home directory when HOME is missing or relative", () => {
    expect(clientPaths({}).configDir).toBe(path.join(os.homedir(), '.config', 'hackstream'));
    expect(clientPaths({ HOME: 'relative/home' }).stateDir).toBe(path.join(os.homedir(), '.local', 'state', 'hackstream'));
  });
});

describe('the server URL setting', () => {
  it.each([
    ['hackstream.example.org', 'https://hackstream.example.org'],
    ['hackstream.example.org:8443', 'https://hackstream.example.org:8443'],
    ['https://hackstream.example.org', 'https://hackstream.example.org'],
    ['https://hackstream.example.org/', 'https://hackstream.example.org'],
    ['HTTPS://HackStream.Example.ORG:8443', 'https://hackstream.example.org:8443'],
    ['https://hackstream.example.org:443', 'https://hackstream.example.org'],
    ['10.0.0.5:8443', 'https://10.0.0.5:8443'],
    ['[2001:db8::1]:8443', 'https://[2001:db8::1]:8443'],
  ])('accepts %s as %s', (input, origin) => {
    expect(parseServerUrl(input)).toBe(origin);
  });

  it.each([
    ['http://hackstream.example.org', /must be an https:\/\/ URL/],
    ['ftp://hackstream.example.org', /must be an https:\/\/ URL/],
    ['https://hackstream.example.org/api', /without a path/],
    ['hackstream.example.org/v1', /without a path/],
    ['https://hackstream.example.org/?x=1', /without a path/],
    ['https://hackstream.example.org/#top', /without a path/],
    ['https://alice:secret@hackstream.example.org', /must not carry a user name or password/],
    ['alice@hackstream.example.org', /must not carry a user name or password/],
    ['https://', /is not a URL/],
    ['exa mple.org', /is not a URL/],
  ])('rejects %s as a usage error', (input, message) => {
    const err = thrown(() => parseServerUrl(input));
    expect(err.exitCode).toBe(EXIT.usage);
    expect(err.message).toMatch(message);
  });

  it('does not repeat credentials it rejects', () => {
    expect(thrown(() => parseServerUrl('https://alice:hunter2@h.example.org')).message).not.toContain('hunter2');
  });
});

describe('settings', () => {
  let home: TempHome;
  afterEach(() => home?.cleanup());

  const writeConfig = (text: string) => {
    mkdirSync(home.paths.configDir, { recursive: true });
    writeFileSync(home.paths.configFile, text);
  };

  it('resolve flag over environment over config file over default', () => {
    home = tempHome();
    writeConfig('api_url = https://from-file.example.org\nquality = high\nusername = filed\n');
    const env = { HACKSTREAM_API_URL: 'from-env.example.org', HACKSTREAM_QUALITY: 'auto' };
    const flags = { api_url: 'from-flag.example.org:8443' };

    expect(resolveSettings(home.paths, flags, env)).toEqual({ api_url: 'https://from-flag.example.org:8443', quality: 'auto', username: 'filed' });
    expect(resolveSettings(home.paths, {}, env)).toEqual({ api_url: 'https://from-env.example.org', quality: 'auto', username: 'filed' });
    expect(resolveSettings(home.paths, {}, {})).toEqual({ api_url: 'https://from-file.example.org', quality: 'high', username: 'filed' });
    writeConfig('');
    expect(resolveSettings(home.paths, {}, {})).toEqual({ quality: 'low' });
  });

  it('treat an empty flag or variable as not given', () => {
    home = tempHome();
    writeConfig('quality = high\n');
    expect(resolveSettings(home.paths, { quality: '' }, { HACKSTREAM_QUALITY: '' }).quality).toBe('high');
  });

  it('name where a bad value came from', () => {
    home = tempHome();
    writeConfig('quality = ultra\n');
    const fromFile = thrown(() => resolveSettings(home.paths, {}, {}));
    expect(fromFile.exitCode).toBe(EXIT.usage);
    expect(fromFile.message).toContain(`(from ${home.paths.configFile})`);
    expect(fromFile.message).toContain('"ultra"');

    const fromEnv = thrown(() => resolveSettings(home.paths, {}, { HACKSTREAM_QUALITY: 'extreme' }));
    expect(fromEnv.message).toContain('(from $HACKSTREAM_QUALITY)');
    expect(fromEnv.message).toContain('"extreme"');

    const fromFlag = thrown(() => resolveSettings(home.paths, { api_url: 'http://plain.example.org' }, {}));
    expect(fromFlag.message).toContain('(from --server)');
    const badUser = thrown(() => resolveSettings(home.paths, {}, { HACKSTREAM_USERNAME: 'no spaces allowed' }));
    expect(badUser.message).toContain('(from $HACKSTREAM_USERNAME)');
  });

  it('ignore a bad value that a higher source overrides', () => {
    home = tempHome();
    writeConfig('quality = ultra\n');
    expect(resolveSettings(home.paths, {}, { HACKSTREAM_QUALITY: 'high' }).quality).toBe('high');
  });

  it('are set and unset through the config file, keeping keys this client does not know', () => {
    home = tempHome();
    writeConfig('future_key = kept\n');
    expect(setSetting(home.paths, 'api_url', 'hackstream.example.org:8443')).toBe('https://hackstream.example.org:8443');
    expect(setSetting(home.paths, 'quality', 'auto')).toBe('auto');
    expect(readConfigFile(home.paths)).toEqual({ future_key: 'kept', api_url: 'https://hackstream.example.org:8443', quality: 'auto' });
    expect(resolveSettings(home.paths, {}, {})).toEqual({ api_url: 'https://hackstream.example.org:8443', quality: 'auto' });
    expect(statSync(home.paths.configFile).mode & 0o777).toBe(0o600);

    unsetSetting(home.paths, 'quality');
    expect(readConfigFile(home.paths)).toEqual({ future_key: 'kept', api_url: 'https://hackstream.example.org:8443' });
    expect(resolveSettings(home.paths, {}, {}).quality).toBe('low');
  });

  it('refuse unknown keys and bad values without touching the file', () => {
    home = tempHome();
    setSetting(home.paths, 'quality', 'high');
    const before = readFileSync(home.paths.configFile, 'utf8');
    expect(thrown(() => setSetting(home.paths, 'colour', 'blue')).message).toMatch(/unknown setting "colour"/);
    expect(thrown(() => setSetting(home.paths, 'quality', 'ultra')).exitCode).toBe(EXIT.usage);
    expect(thrown(() => setSetting(home.paths, 'api_url', 'http://insecure.example.org')).message).toMatch(/https/);
    expect(thrown(() => unsetSetting(home.paths, 'colour')).exitCode).toBe(EXIT.usage);
    expect(readFileSync(home.paths.configFile, 'utf8')).toBe(before);
  });

  it('read as empty when there is no config file yet', () => {
    home = tempHome();
    expect(readConfigFile(home.paths)).toEqual({});
    unsetSetting(home.paths, 'quality');
    expect(readConfigFile(home.paths)).toEqual({});
  });
});
