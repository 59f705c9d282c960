/**
 * The operator's single sign-on in front of HackStream, for the delegated sign-in's tests: a real
 * OpenID provider (the npm package oidc-provider, its development login form: any name signs in)
 * and a real oauth2-proxy (built by tools/oauth2-proxy/build.sh) that signs users in with it and
 * passes each request on to an upstream with the user's identity headers
 * (X-Forwarded-Preferred-Username, -Email, -Groups). Both on loopback, plain HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import Provider from 'oidc-provider';
import { stopChild } from '../../core/child-process.js';
import { REPO_ROOT } from './paths.js';
import { freePort } from './ports.js';
import { until } from './until.js';

export const OAUTH2_PROXY_BIN = path.join(REPO_ROOT, '.tools', 'oauth2-proxy', 'bin', 'oauth2-proxy');

export interface SignInProxy {
  /** Where users open the site: oauth2-proxy, http://127.0.0.1:<port> */
  origin: string;
  /** The identity provider's issuer URL. */
  issuer: string;
  /** What oauth2-proxy wrote (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * `accounts`: each user's groups, by login name (the provider's login form takes any name; a
 * name not listed signs in with no groups).
 */
export async function startSignInProxy(upstream: string, accounts: Record<string, string[]>): Promise<SignInProxy> {
  if (!existsSync(OAUTH2_PROXY_BIN)) throw new Error(`${OAUTH2_PROXY_BIN} is missing: run bash tools/oauth2-proxy/build.sh`);
  const [idpPort, proxyPort] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${idpPort}`;
  const origin = `http://127.0.0.1:${proxyPort}`;
  const clientSecret = randomBytes(24).toString('hex');

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'hackstream',
        client_secret: clientSecret,
        redirect_uris: [`${origin}/oauth2/callback`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
      },
    ],
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username', 'name'], groups: ['groups'] },
    // Every claim in the ID token, where oauth2-proxy reads the user, e-mail and groups.
    conformIdTokenClaims: false,
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, preferred_username: sub, name: sub, email: `${sub}@example.org`, email_verified: true, groups: accounts[sub] ?? [] }),
    }),
    cookies: { keys: [randomBytes(24).toString('hex')] },
    features: { devInteractions: { enabled: true } },
  });
  const idp: Server = await new Promise((resolve) => {
    const server = provider.listen(idpPort, '127.0.0.1', () => resolve(server));
  });

  const output: string[] = [];
  let proxy: ChildProcess | undefined;
  try {
    proxy = spawn(
      OAUTH2_PROXY_BIN,
      [
        `--http-address=127.0.0.1:${proxyPort}`,
        `--upstream=${upstream}`,
        '--provider=oidc',
        `--oidc-issuer-url=${issuer}`,
        '--client-id=hackstream',
        `--redirect-url=${origin}/oauth2/callback`,
        '--scope=openid email profile groups',
        '--code-challenge-method=S256',
        '--email-domain=*',
        '--skip-provider-button=true',
        '--pass-user-headers=true',
        '--cookie-secure=false',
      ],
      {
        // Secrets by environment, never on the command line.
        env: { PATH: process.env['PATH'] ?? '', OAUTH2_PROXY_CLIENT_SECRET: clientSecret, OAUTH2_PROXY_COOKIE_SECRET: randomBytes(16).toString('hex') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    proxy.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
    proxy.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
    await until('oauth2-proxy answers', async () => ((await fetch(`${origin}/ping`).catch(() => null))?.status === 200 ? true : null), 30_000, 100).catch((err: Error) => {
      throw new Error(`${err.message}\n${output.join('').slice(-3000)}`);
    });
  } catch (err) {
    await stopChild(proxy);
    await new Promise((r) => idp.close(r));
    throw err;
  }
  return {
    origin,
    issuer,
    log: () => output.join('').slice(-5000),
    async stop() {
      await stopChild(proxy);
      idp.closeAllConnections();
      await new Promise((r) => idp.close(r));
    },
  };
}
