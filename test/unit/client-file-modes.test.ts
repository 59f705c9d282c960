import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../client/src/client-context.js';
import { ClientError } from '../../client/src/client-error.js';
import { EXIT } from '../../client/src/exit-codes.js';
import { login } from '../../client/src/login.js';
import { ensurePrivateDir, writePrivateFile } from '../../client/src/private-files.js';
import type { Prompter } from '../../client/src/prompts.js';
import { storedLogin, TokenStore } from '../../client/src/token-store.js';
import { XpraLauncher } from '../../client/src/xpra-process.js';
import { fakeXpra, tempHome, type TempHome } from './client-fixtures.js';

const mode = (p: string) => statSync(p).mode & 0o777;

let home: TempHome;
afterEach(() => home?.cleanup());

describe('private files', () => {
  it('are created 0600 in a 0700 directory, the missing directories included', () => {
    home = tempHome();
    const file = path.join(home.root, 'a', 'b', 'secret');
    writePrivateFile(file, 'content');
    expect(readFileSync(file, 'utf8')).toBe('content');
    expect(mode(file)).toBe(0o600);
    expect(mode(path.dirname(file))).toBe(0o700);
  });

  it("refuse a directory someone else made first, or a symbolic link to one (a shared /tmp)", () => {
    home = tempHome();
    const theirs = path.join(home.root, 'theirs');
    mkdirSync(theirs, { mode: 0o777 });
    execFileSync('chown', ['12345', theirs]);
    expect(() => writePrivateFile(path.join(theirs, 'token'), 'secret')).toThrow(/is not a directory of yours/);
    expect(existsSync(path.join(theirs, 'token'))).toBe(false);
    const link = path.join(home.root, 'link');
    execFileSync('ln', ['-s', theirs, link]);
    expect(() => ensurePrivateDir(link)).toThrow(ClientError);
  });

  it('tighten a directory that already exists with 0755', () => {
    home = tempHome();
    const dir = path.join(home.root, 'open');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    writePrivateFile(path.join(dir, 'secret'), 'x');
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, 'secret'))).toBe(0o600);
  });

  it('replace a readable file with a 0600 one and leave no temporary file behind', () => {
    home = tempHome();
    const dir = path.join(home.root, 'd');
    ensurePrivateDir(dir);
    const file = path.join(dir, 'secret');
    writeFileSync(file, 'old', { mode: 0o644 });
    chmodSync(file, 0o644);
    writePrivateFile(file, 'new');
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(mode(file)).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['secret']);
  });
});

describe('the token file', () => {
  it('is 0600 in a 0700 directory and holds the tokens only', () => {
    home = tempHome();
    const store = new TokenStore(home.paths);
    const saved = storedLogin('alice', { access_token: 'acc-1', expires_in: 900, refresh_token: 'ref-1', refresh_expires_in: 86_400 });
    store.save('https://h.example.org', saved);
    expect(mode(home.paths.tokensFile)).toBe(0o600);
    expect(mode(home.paths.configDir)).toBe(0o700);
    expect(JSON.parse(readFileSync(home.paths.tokensFile, 'utf8'))).toEqual({ version: 1, logins: { 'https://h.example.org': saved } });
  });

  describe('after logging in to a server', () => {
    // A HackStream server stand-in: TLS with its own CA, /health and /v1/login.
    let server: https.Server;
    let origin: string;
    let caFile: string;
    let tlsDir: TempHome;
    const logins: unknown[] = [];

    beforeAll(async () => {
      tlsDir = tempHome();
      const d = tlsDir.root;
      const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: d, stdio: 'pipe' });
      ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=Test CA');
      ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
      writeFileSync(path.join(d, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
      ssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '1', '-extfile', 'ext');
      caFile = path.join(d, 'ca.pem');
      server = https.createServer({ key: readFileSync(path.join(d, 'srv.key')), cert: readFileSync(path.join(d, 'srv.pem')) }, (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          res.setHeader('content-type', 'application/json');
          if (req.url === '/health') return res.end('{"status":"ok"}');
          if (req.url === '/v1/login' && req.method === 'POST') {
            logins.push(JSON.parse(body));
            return res.end(JSON.stringify({ access_token: 'acc-from-server', expires_in: 900, refresh_token: 'ref-from-server', refresh_expires_in: 86_400 }));
          }
          res.statusCode = 404;
          res.end('{"error":{"code":"not_found","message":"no such route"}}');
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
      tlsDir.cleanup();
    });

    it('never contains the password, and neither does the config file', async () => {
      home = tempHome();
      const password = 'correct horse battery staple 7f3a';
      const prompter: Prompter = {
        interactive: false,
        text: async () => Promise.reject(new Error('not asked in this test')),
        secret: async () => Promise.reject(new Error('not asked in this test')),
        confirm: async () => Promise.reject(new Error('not asked in this test')),
        notice: () => undefined,
      };
      const ctx = createContext(prompter, home.env, () => undefined);
      expect(await login(ctx, { server: origin, username: 'alice', password, ca: caFile })).toEqual({ server: origin, username: 'alice' });

      expect(logins).toEqual([{ username: 'alice', password }]); // the password did pass through the client
      const tokens = readFileSync(home.paths.tokensFile, 'utf8');
      expect(tokens).toContain('ref-from-server');
      expect(tokens).not.toContain(password);
      expect(mode(home.paths.tokensFile)).toBe(0o600);
      expect(readFileSync(home.paths.configFile, 'utf8')).not.toContain(password);
      expect(mode(home.paths.configFile)).toBe(0o600);
      expect(mode(home.paths.configDir)).toBe(0o700);
      for (const f of readdirSync(home.paths.trustDir)) expect(mode(path.join(home.paths.trustDir, f))).toBe(0o600);
    });
  });
});

describe("xpra's one-time password file", () => {
  it('is 0600 in a 0700 directory while xpra reads it, and gone once xpra has attached', async () => {
    home = tempHome();
    const xpra = fakeXpra(home.root, [0]);
    const launcher = new XpraLauncher(home.paths, xpra.binary);
    const result = await launcher.run((pf) => ['attach', 'ssl://127.0.0.1:14501/', `--password-file=${pf}`], 'one-time-secret');

    expect(result.code).toBe(0);
    const [run] = xpra.runs();
    expect(run).toMatchObject({ fileMode: '600', dirMode: '700', password: 'one-time-secret', afterAttach: 'gone' });
    expect(path.dirname(run!.passwordFile)).toBe(home.paths.runtimeDir);
    expect(existsSync(run!.passwordFile)).toBe(false);
    expect(readdirSync(home.paths.runtimeDir)).toEqual([]);
  });

  it('is removed when xpra exits without attaching', async () => {
    home = tempHome();
    const xpra = fakeXpra(home.root, [1], { attach: false });
    const result = await new XpraLauncher(home.paths, xpra.binary).run((pf) => ['attach', 'ssl://h:1/', `--password-file=${pf}`], 'pw');
    expect(result.code).toBe(1);
    expect(result.tail).toContain('fake xpra: run 1 exits with 1');
    expect(xpra.runs()[0]!.fileMode).toBe('600');
    expect(readdirSync(home.paths.runtimeDir)).toEqual([]);
  });

  it('is removed when xpra is not installed, which is an attach failure', async () => {
    home = tempHome();
    const missing = path.join(home.root, 'no-such-xpra');
    const err = await new XpraLauncher(home.paths, missing).run((pf) => [`--password-file=${pf}`], 'pw').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).exitCode).toBe(EXIT.attachFailed);
    expect((err as ClientError).message).toContain('not installed');
    expect(readdirSync(home.paths.runtimeDir)).toEqual([]);
  });

  it("leaves xpra's output in a private log in the state directory, without the password", async () => {
    home = tempHome();
    const xpra = fakeXpra(home.root, [0]);
    await new XpraLauncher(home.paths, xpra.binary).run((pf) => ['attach', 'ssl://h:1/', `--password-file=${pf}`], 'never-logged');
    const log = path.join(home.paths.stateDir, 'xpra.log');
    expect(readFileSync(log, 'utf8')).toContain('Attached to ssl://h:1/');
    expect(readFileSync(log, 'utf8')).not.toContain('never-logged');
    expect(mode(log)).toBe(0o600);
    expect(mode(home.paths.stateDir)).toBe(0o700);
  });
});
