/**
 * The session image's token check (images/session/hackstream_auth.py) run by Debian's xpra 3.1
 * (the test machine's client package, the same version as the image's): each attempt goes through
 * xpra's own challenge code on both sides, as `xpra attach` over TLS and the server do it: the
 * module's challenge, the client's combined salt and xor response
 * (xpra/client/client_base.py `send_challenge_reply`), the server's `authenticate`.
 */
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mintNativeToken, NATIVE_TOKEN_CONTEXT } from '../../api/connect/native-tokens.js';
import { sessionPublicKeyHex, sessionSigningKey } from '../../core/session-token-key.js';
import { REPO_ROOT } from '../support/paths.js';

/** Debian's Python, with xpra and python3-cryptography (a python3 earlier on PATH may lack them). */
const DEBIAN_PYTHON = '/usr/bin/python3';
const MODULE = path.join(REPO_ROOT, 'images', 'session', 'hackstream_auth.py');

const HARNESS = String.raw`
import importlib.util, json, sys
from xpra.net.digest import gendigest, get_salt
from xpra.net.net_util import get_network_caps
from xpra.os_util import bytestostr
spec = importlib.util.spec_from_file_location("hackstream_auth", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)

class Connection:
    def __init__(self, socktype):
        self.socktype = self.socktype_wrapped = socktype

def attempt(case):
    caps = get_network_caps()
    auth = mod.Authenticator(case["username"], pubkey=case["pubkey"], used_dir=case["used_dir"], refused_until=case["refused_until"],
                             connection=Connection(case.get("socktype", "ssl")), exec_cwd="/")
    challenge = auth.get_challenge(case.get("digests") or caps["digest"])
    if challenge is None:
        return "no challenge"
    server_salt, digest = challenge
    salt_digest = auth.choose_salt_digest(caps["salt-digest"])
    # The client's half (client_base.send_challenge_reply), then the server's (strget: latin1 strings).
    client_salt = get_salt(len(server_salt) if salt_digest == "xor" else 32)
    salt = gendigest(salt_digest, client_salt, bytestostr(server_salt))
    response = gendigest(digest, case["password"], salt)
    ok = auth.authenticate(bytestostr(response), bytestostr(client_salt))
    return digest + (" accepted" if ok else " refused")

print(json.dumps([attempt(c) for c in json.load(sys.stdin)]))
`;

const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = randomBytes(32).toString('hex');
const SESSION = 'e7a1c7a4-5a43-4b7e-8d0f-3c2b1a0f9e8d';
const pubkey = path.join(dir, 'token.pub');
writeFileSync(pubkey, sessionPublicKeyHex(SECRET, SESSION));

type Attempt = { username: string; password: string; pubkey?: string; refused_until?: string; socktype?: string; digests?: string[] };

function run(attempts: Attempt[], usedDir = path.join(dir, `used-${randomBytes(4).toString('hex')}`)): string[] {
  const cases = attempts.map((a) => ({ pubkey, used_dir: usedDir, refused_until: path.join(dir, 'no-account-change'), ...a }));
  const out = execFileSync(DEBIAN_PYTHON, ['-c', HARNESS, MODULE], { input: JSON.stringify(cases), encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  return JSON.parse(out) as string[];
}

describe('the session image token check under xpra 3.1', () => {
  it('accepts a token from the API once, over the xor digest, and refuses its reuse', () => {
    const token = mintNativeToken(SECRET, SESSION, 60);
    expect(run([token, token])).toEqual(['xor accepted', 'xor refused']);
  });

  it('refuses an expired token, a token of another session, and a signature moved to another id', () => {
    const expired = mintNativeToken(SECRET, SESSION, -1);
    const foreign = mintNativeToken(SECRET, 'another-session', 60);
    const [a, b] = [mintNativeToken(SECRET, SESSION, 60), mintNativeToken(SECRET, SESSION, 60)];
    const moved = { username: a.username, password: b.password };
    expect(run([expired, foreign, moved, a])).toEqual(['xor refused', 'xor refused', 'xor refused', 'xor accepted']);
  });

  it('refuses a token minted the former way (HMAC) with the key file the session user can read', () => {
    const username = mintNativeToken(SECRET, SESSION, 60).username;
    const readable = Buffer.from(sessionPublicKeyHex(SECRET, SESSION), 'hex');
    const forged = createHmac('sha256', readable).update(username).digest('base64url');
    expect(run([{ username, password: forged }])).toEqual(['xor refused']);
  });

  it('refuses the tokens issued until an account change (the bound the worker wrote, to the millisecond), and admits later ones', () => {
    const change = Date.now();
    const refusedUntil = path.join(dir, `refused-${randomBytes(4).toString('hex')}`);
    // Appended by several changes: the highest holds, wherever it is in the list.
    writeFileSync(refusedUntil, `${change - 5000}\n${change}\n${change - 9000}\n`);
    const at = mintNativeToken(SECRET, SESSION, 60, change);
    const after = mintNativeToken(SECRET, SESSION, 60, change + 1);
    const withoutIssueTime = mintNativeToken(SECRET, SESSION, 60, change + 1);
    const [expiry] = withoutIssueTime.username.split('-');
    const oldFormat = { username: `${expiry}-${randomBytes(16).toString('base64url')}` };
    const signed = { ...oldFormat, password: sign(null, Buffer.from(`${NATIVE_TOKEN_CONTEXT}${oldFormat.username}`), sessionSigningKey(SECRET, SESSION)).toString('base64url') };
    expect(run([at, after, signed].map((t) => ({ ...t, refused_until: refusedUntil })))).toEqual(['xor refused', 'xor accepted', 'xor refused']);
    // Without an account change, the same kind of token is let in.
    expect(run([{ ...mintNativeToken(SECRET, SESSION, 60, change - 1000) }])).toEqual(['xor accepted']);
    // A bound it cannot read refuses every token rather than admit a revoked one.
    // No change yet (the file as a session starts with it): no bound.
    writeFileSync(refusedUntil, '');
    expect(run([{ ...mintNativeToken(SECRET, SESSION, 60, change - 1000), refused_until: refusedUntil }])).toEqual(['xor accepted']);
    writeFileSync(refusedUntil, 'garbled');
    expect(run([{ ...mintNativeToken(SECRET, SESSION, 600), refused_until: refusedUntil }])).toEqual(['xor refused']);
  });

  it('admits nobody without the public key (a warm container), and asks nothing of a client without xor or off TLS', () => {
    const token = mintNativeToken(SECRET, SESSION, 60);
    const results = run([
      { ...token, pubkey: path.join(dir, 'absent.pub') },
      { ...token, digests: ['hmac+sha256', 'hmac'] },
      { ...token, socktype: 'tcp' },
      token,
    ]);
    expect(results).toEqual(['xor refused', 'no challenge', 'no challenge', 'xor accepted']);
  });
});
