/** Logging in (with the second factor when the account has one), configuring, logging out. */
import { ApiClient, refusal } from './api-client.js';
import { settingsOf, type ClientContext } from './client-context.js';
import { ClientError } from './client-error.js';
import { EXIT } from './exit-codes.js';
import { requestJson, serverError } from './https-json.js';
import { parseServerUrl, readConfigFile, writeConfigFile } from './settings.js';
import { storedLogin, type TokenPair } from './token-store.js';

export interface LoginInput {
  server?: string;
  username?: string;
  /** From --password-stdin; asked for otherwise. */
  password?: string;
  /** --ca FILE: the server's CA, pinned without asking. */
  ca?: string;
  totpCode?: string;
  /** `configure`: ask for every value, offering the current ones. */
  askAll?: boolean;
}

const TOTP_ATTEMPTS = 3;

export function trustQuestion(server: string, fingerprint: string): string {
  return `${server} presents a certificate from a CA this device does not know.\nIts SHA-256 fingerprint is\n  ${fingerprint}\nCompare it with the one your administrator gave you. Trust this CA for ${server}?`;
}

export async function login(ctx: ClientContext, input: LoginInput): Promise<{ server: string; username: string }> {
  const { prompter } = ctx;
  const current = settingsOf(ctx, { api_url: input.server, username: input.username });
  const server = parseServerUrl(
    input.server ?? (input.askAll || !current.api_url ? await prompter.text('Server URL', { flag: '--server', default: current.api_url }) : current.api_url),
  );
  if (input.ca) ctx.trust.pinFromFile(server, input.ca);
  await ctx.trust.establish(server, prompter.interactive ? (fp) => prompter.confirm(trustQuestion(server, fp)) : undefined);

  const username =
    input.username ?? (input.askAll || !current.username ? await prompter.text('Username', { flag: '--username', default: current.username }) : current.username);
  const password = input.password ?? (await prompter.secret('Password', { flag: '--password-stdin' }));
  const trust = ctx.trust.trustFor(server);
  const attempt = (extra: Record<string, string> = {}) => requestJson(server, 'POST', '/v1/login', { trust, body: { username, password, ...extra } });

  let res = await attempt();
  if (res.status === 401 && serverError(res).code === 'totp_required') {
    for (let i = 1; ; i++) {
      const code = (input.totpCode ?? (await prompter.text('Authenticator code (or a recovery code)', { flag: '--totp-code' }))).replace(/\s+/g, '');
      res = await attempt(/^\d{6,8}$/.test(code) ? { totp_code: code } : { recovery_code: code });
      const retry = res.status === 401 && ['invalid_totp', 'invalid_recovery_code'].includes(serverError(res).code);
      if (!retry || input.totpCode || i >= TOTP_ATTEMPTS || !prompter.interactive) break;
      prompter.notice(serverError(res).message);
    }
  }
  if (res.status !== 200) {
    const err = refusal(res);
    // A wrong password is the server refusing, not an expired login.
    throw res.status === 401 ? new ClientError(serverError(res).message, EXIT.refused, serverError(res).code) : err;
  }
  ctx.tokens.save(server, storedLogin(username, res.body as TokenPair));
  writeConfigFile(ctx.paths, { ...readConfigFile(ctx.paths), api_url: server, username });
  return { server, username };
}

/** Ends the login on the server (its tokens stop working at once) and forgets it here. */
export async function logout(ctx: ClientContext): Promise<{ server?: string; told: boolean }> {
  const server = settingsOf(ctx).api_url;
  if (!server || !ctx.tokens.get(server)) return { server, told: false };
  let told = true;
  try {
    await new ApiClient(server, ctx.trust, ctx.tokens).logout();
  } catch {
    told = false;
  }
  ctx.tokens.remove(server);
  return { server, told };
}
