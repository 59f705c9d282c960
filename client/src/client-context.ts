/** What every command works with: the client's files, its trust store and tokens, and who to ask. */
import { ApiClient } from './api-client.js';
import { notLoggedIn } from './client-error.js';
import { clientPaths, type ClientPaths } from './client-paths.js';
import type { Prompter } from './prompts.js';
import { ServerTrust } from './server-trust.js';
import { resolveSettings, type Settings } from './settings.js';
import { TokenStore } from './token-store.js';

export interface ClientContext {
  paths: ClientPaths;
  trust: ServerTrust;
  tokens: TokenStore;
  prompter: Prompter;
  env: Record<string, string | undefined>;
  /** Where results go (stdout); prompts and progress go to the prompter. */
  out(line: string): void;
}

export function createContext(
  prompter: Prompter,
  env: Record<string, string | undefined> = process.env,
  out: (line: string) => void = (l) => void process.stdout.write(`${l}\n`),
): ClientContext {
  const paths = clientPaths(env);
  return { paths, trust: new ServerTrust(paths), tokens: new TokenStore(paths), prompter, env, out };
}

export function settingsOf(ctx: ClientContext, flags: Settings = {}): Settings {
  return resolveSettings(ctx.paths, flags, ctx.env);
}

/** The API of the configured server, for a logged-in user (or the not-logged-in error). */
export function apiOf(ctx: ClientContext, flags: Settings = {}): ApiClient {
  const server = settingsOf(ctx, flags).api_url;
  if (!server) throw notLoggedIn('no server configured');
  if (!ctx.tokens.get(server)) throw notLoggedIn(`not logged in to ${server}`);
  return new ApiClient(server, ctx.trust, ctx.tokens);
}
