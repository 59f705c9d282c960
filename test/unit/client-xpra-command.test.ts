import { describe, expect, it } from 'vitest';
import type { ConnectDescriptor } from '../../client/src/api-client.js';
import { QUALITIES, type Quality } from '../../client/src/settings.js';
import { classifyXpraExit, CLIENT_PRESETS, xpraAttachArguments, type XpraExit } from '../../client/src/xpra-command.js';

const PASSWORD = 'tok_9f8e7d6c5b4a39281706';

const native = (over: Partial<ConnectDescriptor['native']> = {}): ConnectDescriptor['native'] => ({
  host: 'ingress.example.org',
  port: 14501,
  sni: 'a1b2c3.sessions.example.org',
  username: 'alice',
  password: PASSWORD,
  ca_url: 'https://hackstream.example.org/ca.pem',
  ca_fingerprint_sha256: 'AA:BB',
  ...over,
});

const files = { caFile: '/home/alice/.config/hackstream/trust/ca.sessions.pem', passwordFile: '/run/user/1000/hackstream/token-0123' };

describe('xpra attach arguments', () => {
  it.each(QUALITIES)('attach over TLS by the session SNI with the HackStream CA required, for the %s preset', (quality) => {
    const args = xpraAttachArguments(native(), files, quality);
    expect(args.slice(0, 2)).toEqual(['attach', 'ssl://ingress.example.org:14501/']);
    expect(args).toEqual(
      expect.arrayContaining([
        '--ssl-server-hostname=a1b2c3.sessions.example.org',
        `--ssl-ca-certs=${files.caFile}`,
        '--ssl-server-verify-mode=required',
        '--username=alice',
        `--password-file=${files.passwordFile}`,
        '--challenge-handlers=file',
      ]),
    );
  });

  it.each(QUALITIES)('never carry the password itself (%s preset)', (quality) => {
    const args = xpraAttachArguments(native(), files, quality);
    expect(args.join(' ')).not.toContain(PASSWORD);
    expect(args.filter((a) => a.startsWith('--password=') || a.startsWith('--password '))).toEqual([]);
  });

  it('ask for JPEG only, no video decoder, no OpenGL and no bandwidth detection (which lifts the cap) on the low preset, and leave that to xpra otherwise', () => {
    const low = xpraAttachArguments(native(), files, 'low');
    expect(low).toEqual(expect.arrayContaining(['--encoding=jpeg', '--video-decoders=none', '--opengl=no', '--bandwidth-detection=no']));
    for (const quality of ['auto', 'high'] as Quality[]) {
      const args = xpraAttachArguments(native(), files, quality);
      expect(args.filter((a) => CLIENT_PRESETS.low.includes(a))).toEqual([]);
      expect(args.filter((a) => /^--(encoding|video-decoders|opengl)=/.test(a))).toEqual([]);
    }
  });

  it('differ between presets only in the preset options', () => {
    const [low, auto, high] = (['low', 'auto', 'high'] as Quality[]).map((q) => xpraAttachArguments(native(), files, q));
    expect(auto).toEqual(high);
    expect(low!.filter((a) => !auto!.includes(a))).toEqual(CLIENT_PRESETS.low);
  });

  it('bracket an IPv6 host and leave IPv4 and names as they are', () => {
    expect(xpraAttachArguments(native({ host: '2001:db8::5', port: 443 }), files, 'auto')[1]).toBe('ssl://[2001:db8::5]:443/');
    expect(xpraAttachArguments(native({ host: '::1' }), files, 'auto')[1]).toBe('ssl://[::1]:14501/');
    expect(xpraAttachArguments(native({ host: '192.0.2.7' }), files, 'auto')[1]).toBe('ssl://192.0.2.7:14501/');
  });

  it('keep the server-given SNI name even when connecting to an address', () => {
    const args = xpraAttachArguments(native({ host: '192.0.2.7', sni: 'zz9.sessions.example.org' }), files, 'low');
    expect(args).toContain('--ssl-server-hostname=zz9.sessions.example.org');
  });
});

describe('xpra exit codes', () => {
  const documented: [number, XpraExit][] = [
    [0, 'detached'],
    [1, 'transient'],
    [2, 'transient'],
    [18, 'transient'],
    [3, 'auth'],
    [4, 'auth'],
    [7, 'auth'],
    [11, 'auth'],
    [6, 'certificate'],
    [16, 'certificate'],
    [19, 'certificate'],
  ];
  it.each(documented)('classify exit %i as %s', (code, kind) => {
    expect(classifyXpraExit(code)).toBe(kind);
  });

  it.each([5, 8, 9, 10, 12, 13, 14, 15, 17, 20, 127, 128, 255, -1])('treat undocumented exit %i as an error', (code) => {
    expect(classifyXpraExit(code)).toBe('error');
  });

  it('treat a missing exit code (killed) as an error', () => {
    expect(classifyXpraExit(null)).toBe('error');
  });
});
