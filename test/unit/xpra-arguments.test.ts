import { describe, expect, it } from 'vitest';
import { sessionEnvironment, xpraArguments } from '../../activities/xpra-arguments.js';
import { QUALITY_PRESETS } from '../../core/quality-presets.js';
import type { SessionSpec } from '../../workflows/messages.js';

const base = {
  quality: 'auto',
  policy: { clipboard: true, fileTransfer: false },
} as unknown as SessionSpec;

describe('xpra arguments', () => {
  it('serve TLS with the session certificate and the one-time token check, never without it', () => {
    const args = xpraArguments(base);
    expect(args).toEqual(
      expect.arrayContaining([
        '--bind-ssl=0.0.0.0:14501',
        '--ssl-cert=/run/hackstream/tls-cert.pem',
        '--ssl-key=/run/hackstream/tls-key.pem',
        '--ssl-auth=hackstream:pubkey=/run/hackstream/token.pub,refused_until=/run/hackstream/token.refused-until',
        '--ssl-protocol=TLS',
      ]),
    );
  });

  it('follow the role policy for clipboard and file transfer', () => {
    expect(xpraArguments(base)).toEqual(expect.arrayContaining(['--clipboard=yes', '--file-transfer=no']));
    const strict = xpraArguments({ ...base, policy: { clipboard: false, fileTransfer: false } });
    expect(strict).toEqual(expect.arrayContaining(['--clipboard=no', '--file-transfer=no']));
    const open = xpraArguments({ ...base, policy: { clipboard: true, fileTransfer: true } });
    expect(open).toContain('--file-transfer=yes');
  });

  it('map quality presets: low is JPEG only, no video, capped at 1 Mbit/s', () => {
    const low = xpraArguments({ ...base, quality: 'low' });
    expect(low).toEqual(expect.arrayContaining(['--encoding=jpeg', '--encodings=jpeg,png,rgb', '--video-encoders=none', '--bandwidth-limit=1000000']));
    expect(xpraArguments({ ...base, quality: 'auto' }).filter((a) => QUALITY_PRESETS.low.xpraServer.includes(a))).toEqual([]);
    expect(xpraArguments({ ...base, quality: 'high' })).toContain('--min-quality=60');
    // auto: adaptive quality, its encoder speed held at 30 (compressed strips while scrolling).
    const auto = xpraArguments({ ...base, quality: 'auto' });
    expect(auto).toContain('--speed=30');
    expect(auto.some((a) => a.startsWith('--quality=') || a.startsWith('--min-quality='))).toBe(false);
  });

  it('tell the container to allow memory merging only when the node does, and a warm one to wait for its URL', () => {
    const spec = { ...base, app: 'firefox', url: 'https://example.org/' } as SessionSpec;
    const plain = sessionEnvironment(spec);
    expect(plain).toMatchObject({ HACKSTREAM_APP_COMMAND: '/usr/local/bin/hackstream-start-app', HACKSTREAM_URL: 'https://example.org/' });
    expect(plain).not.toHaveProperty('HACKSTREAM_MEMORY_MERGE');
    expect(plain).not.toHaveProperty('HACKSTREAM_WARM');
    expect(sessionEnvironment(spec, { memoryMerge: false })).not.toHaveProperty('HACKSTREAM_MEMORY_MERGE');
    expect(sessionEnvironment(spec, { memoryMerge: true, warm: true })).toMatchObject({ HACKSTREAM_MEMORY_MERGE: '1', HACKSTREAM_WARM: '1' });
  });
});
