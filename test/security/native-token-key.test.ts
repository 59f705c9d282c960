/**
 * From inside a session, as the session user, nothing readable yields the key that mints native
 * tokens (issue 11, point 3): the container holds only the session's public key, and its token
 * check (images/session/hackstream_auth.py) verifies Ed25519 signatures made by the API. A real
 * session of the real stack; what its user can read is read with `docker exec -u 1000`; every
 * token goes through the ingress to xpra in a real `xpra attach`. Against the former design (an
 * HMAC key in /run/hackstream/token.key) the file listing and the forged tokens fail.
 */
import { createHmac, createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FILES, SESSION_FILES_MOUNT } from '../../activities/session-files.js';
import { NATIVE_TOKEN_CONTEXT } from '../../api/connect/native-tokens.js';
import { sessionPublicKeyHex, sessionSigningKey } from '../../core/session-token-key.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { docker, execIn, sessionContainers } from '../support/docker.js';
import { attachOnce } from '../support/xpra-client.js';

const stack = inject('stack');
let t: ApiUnderTest;
let user: { token: string };
let session: { session_id: string; connect: { native: { sni: string; username: string; password: string } } };
let containerId: string;

beforeAll(async () => {
  t = await startApiUnderTest();
  user = await t.newUser();
  const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  session = created.body;
  const [container] = await sessionContainers(session.session_id);
  containerId = container!.Id;
});
afterAll(async () => {
  if (session) await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: user.token });
  await t?.close();
});

/** Every file under /run/hackstream as the session user reads it (base64), or why it cannot. */
const READ_FILES = String.raw`
import base64, json, os, sys
out = {}
for root, dirs, files in os.walk(sys.argv[1]):
    for name in files:
        p = os.path.join(root, name)
        try:
            with open(p, "rb") as f:
                out[os.path.relpath(p, sys.argv[1])] = base64.b64encode(f.read()).decode()
        except OSError as e:
            out[os.path.relpath(p, sys.argv[1])] = "unreadable: %s" % e
print(json.dumps(out))
`;

/**
 * Searches what the session user can read for secrets: the files of the writable and mounted
 * places, every process's environment and command line, and every readable mapping of every
 * other process's memory (/proc/<pid>/mem). The secrets arrive masked, so this process's own
 * arguments hold none of them (and it skips its own memory).
 */
const SCAN = String.raw`
import json, os, sys
pairs = json.loads(sys.argv[1])
needles = {name: bytes(a ^ b for a, b in zip(bytes.fromhex(m), bytes.fromhex(k))) for name, (m, k) in pairs.items()}
longest = max(len(n) for n in needles.values())
hits, stats = [], {"files": 0, "processes": {}}
def search(where, data):
    for name, n in needles.items():
        if n in data:
            hits.append("%s in %s" % (name, where))
for top in ("/run", "/tmp", "/home", "/dev/shm", "/etc/hackstream"):
    for root, dirs, files in os.walk(top):
        for f in files:
            p = os.path.join(root, f)
            try:
                with open(p, "rb") as fh:
                    search(p, fh.read(64 << 20))
                stats["files"] += 1
            except OSError:
                pass
me = os.getpid()
for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
    if pid == me:
        continue
    info = {"read": 0, "unreadable": 0}
    try:
        for part in ("environ", "cmdline"):
            with open("/proc/%d/%s" % (pid, part), "rb") as fh:
                data = fh.read()
            search("/proc/%d/%s" % (pid, part), data)
        info["cmdline"] = data.replace(b"\0", b" ").decode("latin1")[:100]
        with open("/proc/%d/maps" % pid) as fh:
            regions = [l.split() for l in fh]
        mem = open("/proc/%d/mem" % pid, "rb", 0)
    except OSError:
        stats["processes"][pid] = info
        continue
    for r in regions:
        if "r" not in r[1] or (len(r) > 5 and r[5] in ("[vvar]", "[vsyscall]")):
            continue
        start, end = (int(x, 16) for x in r[0].split("-"))
        pos, tail = start, b""
        while pos < end:
            try:
                mem.seek(pos)
                chunk = mem.read(min(16 << 20, end - pos))
            except (OSError, ValueError, OverflowError):
                info["unreadable"] += 1
                break
            if not chunk:
                break
            search("memory of %d (%s)" % (pid, info.get("cmdline")), tail + chunk)
            tail = chunk[-(longest - 1):]
            info["read"] += len(chunk)
            pos += len(chunk)
    mem.close()
    stats["processes"][pid] = info
print(json.dumps({"hits": hits, "stats": stats}))
`;

function masked(secrets: Record<string, Buffer>): string {
  const pairs: Record<string, [string, string]> = {};
  for (const [name, value] of Object.entries(secrets)) {
    const mask = randomBytes(value.length);
    pairs[name] = [Buffer.from(value.map((b, i) => b ^ mask[i]!)).toString('hex'), mask.toString('hex')];
  }
  return JSON.stringify(pairs);
}

async function readableFiles(): Promise<Record<string, Buffer>> {
  const res = await execIn(containerId, ['python3', '-c', READ_FILES, SESSION_FILES_MOUNT]);
  expect(res.exitCode, res.output).toBe(0);
  const raw = JSON.parse(res.output) as Record<string, string>;
  for (const [name, content] of Object.entries(raw)) expect(content, name).not.toMatch(/^unreadable/);
  return Object.fromEntries(Object.entries(raw).map(([name, b64]) => [name, Buffer.from(b64, 'base64')]));
}

const freshUsername = () => `${Math.floor(Date.now() / 1000) + 60}-${randomBytes(16).toString('base64url')}`;

/** One real `xpra attach` through the ingress with this username and password. */
const attach = (username: string, password: string) =>
  attachOnce({ host: '127.0.0.1', port: stack.ingressPort, sni: session.connect.native.sni, caFile: stack.caFile, username, password });

async function containerLog(): Promise<string> {
  const buf = await docker.getContainer(containerId).logs({ stdout: true, stderr: true, follow: false });
  return buf.toString('latin1');
}

/** The tokens someone holding these bytes could make: the former way (HMAC), or signed as if they were the key. */
function forgeries(name: string, content: Buffer): Array<{ how: string; username: string; password: string }> {
  const text = content.toString('latin1').trim();
  const keys: Array<[string, Buffer]> = [[`${name} (raw)`, content]];
  if (/^([0-9a-f]{2})+$/i.test(text)) keys.push([`${name} (hex-decoded)`, Buffer.from(text, 'hex')]);
  const out = keys.map(([how, key]) => {
    const username = freshUsername();
    return { how: `HMAC with ${how}`, username, password: createHmac('sha256', key).update(username).digest('base64url') };
  });
  const signers: Array<[string, KeyObject]> = [];
  for (const [how, key] of keys) {
    if (key.length === 32) signers.push([`Ed25519 seed ${how}`, createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), key]), format: 'der', type: 'pkcs8' })]);
  }
  if (text.includes('PRIVATE KEY')) signers.push([`the private key in ${name}`, createPrivateKey(text)]);
  for (const [how, key] of signers) {
    const username = freshUsername();
    const hash = key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448' ? null : 'sha256';
    out.push({ how: `signed with ${how}`, username, password: sign(hash, Buffer.from(`${NATIVE_TOKEN_CONTEXT}${username}`), key).toString('base64url') });
  }
  return out;
}

describe("the native token key, from inside the session as the session user", () => {
  it('holds the TLS certificate and key, the token public key and the account-change bound, and no key that signs tokens', async () => {
    const files = await readableFiles();
    expect(Object.keys(files).sort()).toEqual([FILES.cert, FILES.key, FILES.tokenPublicKey, FILES.tokensRefusedUntil].sort());
    // No account change yet: no bound.
    expect(files[FILES.tokensRefusedUntil]!.toString()).toBe('');
    expect(files[FILES.tokenPublicKey]!.toString()).toBe(sessionPublicKeyHex(t.config.sessionTokenSecret, session.session_id));
    // The one private key is the TLS socket's (ECDSA P-256), not an Ed25519 key.
    for (const [name, content] of Object.entries(files)) {
      if (name !== FILES.key) expect(content.toString('latin1'), name).not.toContain('PRIVATE KEY');
    }
    expect(createPrivateKey(files[FILES.key]!.toString()).asymmetricKeyType).toBe('ec');
  });

  it('finds the signing key and the shared secret in no file, environment or process memory it can read', async () => {
    const seed = sessionSigningKey(t.config.sessionTokenSecret, session.session_id).export({ format: 'der', type: 'pkcs8' }).subarray(-32);
    const secrets = {
      'signing seed': seed,
      'signing seed (hex)': Buffer.from(seed.toString('hex')),
      'signing seed (base64url)': Buffer.from(seed.toString('base64url')),
      'HACKSTREAM_SESSION_TOKEN_SECRET': Buffer.from(t.config.sessionTokenSecret),
    };
    const res = await execIn(containerId, ['python3', '-c', SCAN, masked(secrets)]);
    expect(res.exitCode, res.output).toBe(0);
    const { hits, stats } = JSON.parse(res.output) as { hits: string[]; stats: { files: number; processes: Record<string, { cmdline?: string; read: number }> } };
    expect(hits).toEqual([]);
    // The scan saw something: the mounted files, and the memory of xpra (which checks tokens) and Firefox.
    expect(stats.files).toBeGreaterThanOrEqual(3);
    const readOf = (cmdline: RegExp) => Object.values(stats.processes).filter((p) => cmdline.test(p.cmdline ?? '')).reduce((n, p) => n + p.read, 0);
    expect(readOf(/xpra start/), JSON.stringify(stats.processes)).toBeGreaterThan(10 << 20);
    expect(readOf(/firefox/), JSON.stringify(stats.processes)).toBeGreaterThan(10 << 20);
  });

  it('has its tokens refused when minted from any file it can read, the former way (HMAC) or as a signing key', async () => {
    const files = await readableFiles();
    const forged = Object.entries(files).flatMap(([name, content]) => forgeries(name, content));
    expect(forged.map((f) => f.how)).toEqual(expect.arrayContaining([`HMAC with ${FILES.tokenPublicKey} (hex-decoded)`, `signed with the private key in ${FILES.key}`]));
    for (const f of forged) {
      const result = await attach(f.username, f.password);
      expect(result.attached, `${f.how}\n${result.output}`).toBe(false);
      expect(result.output, f.how).toMatch(/authentication failed/i);
    }
    // Each was refused by the token check itself (a signature that does not verify, or is no
    // Ed25519 signature at all), not by anything before it.
    const log = await containerLog();
    for (const f of forged) expect(log, f.how).toMatch(new RegExp(`hackstream auth: (wrong|malformed) token for ${f.username}`));
  });

  it("lets the API's token in once, and refuses it again", async () => {
    const { username, password } = session.connect.native;
    const first = await attach(username, password);
    expect(first.attached, first.output).toBe(true);
    const again = await attach(username, password);
    expect(again.attached, again.output).toBe(false);
    expect(await containerLog()).toContain(`hackstream auth: token ${username} was already used`);
  });
});
