/**
 * The client's settings: the config file (INI, `key = value`), overridden by environment
 * variables, overridden by command-line flags. Each setting is validated where it enters, with
 * a message that names it.
 */
import { parse, stringify } from 'ini';
import { usageError } from './client-error.js';
import type { ClientPaths } from './client-paths.js';
import { readOptionalFile, writePrivateFile } from './private-files.js';

export const QUALITIES = ['low', 'auto', 'high'] as const;
export type Quality = (typeof QUALITIES)[number];

interface SettingSpec {
  env: string;
  help: string;
  /** Returns the normalised value or throws a usage error naming the key. */
  parse(value: string): string;
  default?: string;
}

/** The server's origin: https only (tokens and passwords cross it), no path, query or credentials. */
export function parseServerUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`);
  } catch {
    throw usageError(`api_url: "${value}" is not a URL (e.g. https://hackstream.example.org)`);
  }
  if (url.protocol !== 'https:') throw usageError(`api_url: "${value}" must be an https:// URL`);
  if (url.username || url.password) throw usageError('api_url: must not carry a user name or password');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw usageError(`api_url: "${value}" must be the server's address only, without a path (https://${url.host})`);
  }
  return url.origin;
}

export function parseQuality(value: string): Quality {
  if (!(QUALITIES as readonly string[]).includes(value)) throw usageError(`quality: "${value}" is not one of ${QUALITIES.join(', ')}`);
  return value as Quality;
}

export const SETTINGS = {
  api_url: { env: 'HACKSTREAM_API_URL', help: 'the HackStream server (https://host[:port])', parse: parseServerUrl },
  username: {
    env: 'HACKSTREAM_USERNAME',
    help: 'the account to log in with',
    parse: (v: string) => {
      if (!/^[\w.@-]{1,64}$/.test(v)) throw usageError(`username: "${v}" is not a valid user name`);
      return v;
    },
  },
  quality: { env: 'HACKSTREAM_QUALITY', help: 'default quality preset of new sessions', parse: parseQuality, default: 'low' },
} satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

export function isSettingKey(key: string): key is SettingKey {
  return (SETTING_KEYS as string[]).includes(key);
}

export type Settings = Partial<Record<SettingKey, string>>;

/** What the config file holds (unknown keys are kept, so a newer client's settings survive). */
export function readConfigFile(paths: ClientPaths): Record<string, string> {
  const text = readOptionalFile(paths.configFile);
  if (text === undefined) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parse(text))) if (typeof v === 'string') out[k] = v;
  return out;
}

export function writeConfigFile(paths: ClientPaths, values: Record<string, string>): void {
  writePrivateFile(paths.configFile, `# HackStream client settings (hackstream config set KEY VALUE)\n${stringify(values)}`);
}

export function setSetting(paths: ClientPaths, key: string, value: string): string {
  if (!isSettingKey(key)) throw usageError(`unknown setting "${key}" (known: ${SETTING_KEYS.join(', ')})`);
  const normalised = SETTINGS[key].parse(value);
  writeConfigFile(paths, { ...readConfigFile(paths), [key]: normalised });
  return normalised;
}

export function unsetSetting(paths: ClientPaths, key: string): void {
  if (!isSettingKey(key)) throw usageError(`unknown setting "${key}" (known: ${SETTING_KEYS.join(', ')})`);
  const values = readConfigFile(paths);
  delete values[key];
  writeConfigFile(paths, values);
}

/**
 * The effective settings: flags over environment over the config file over defaults. A bad value
 * in the file or the environment is reported with where it came from.
 */
export function resolveSettings(paths: ClientPaths, flags: Settings = {}, env: Record<string, string | undefined> = process.env): Settings {
  const file = readConfigFile(paths);
  const out: Settings = {};
  for (const key of SETTING_KEYS) {
    const spec: SettingSpec = SETTINGS[key];
    const candidates: [string | undefined, string][] = [
      [flags[key], `--${key.replace('api_url', 'server')}`],
      [env[spec.env], `$${spec.env}`],
      [file[key], paths.configFile],
    ];
    const found = candidates.find(([v]) => v !== undefined && v !== '');
    if (!found) {
      if (spec.default !== undefined) out[key] = spec.default;
      continue;
    }
    try {
      out[key] = spec.parse(found[0]!);
    } catch (err) {
      throw usageError(`${(err as Error).message} (from ${found[1]})`);
    }
  }
  return out;
}
