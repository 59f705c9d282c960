import { describe, expect, it } from 'vitest';
import { sessionEnvironment, xpraArguments } from '../../activities/xpra-arguments.js';
import { QUALITY_PRESETS } from '../../core/quality-presets.js';
import type { SessionSpec } from '../../workflows/messages.js';

const base = {
  quality: 'auto',
  policy: { clipboard: true, fileTransfer: false },
} as unknown as SessionSpec;

describe('xpra arguments', () => {
  /** The container's environment for a Firefox session of the preset. */
  const env = (quality: string) => sessionEnvironment({ ...base, quality, app: 'firefox' } as SessionSpec);

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
    // auto: quality 70 while things change, its encoder speed held at 30 (compressed strips while scrolling).
    const auto = xpraArguments({ ...base, quality: 'auto' });
    expect(auto).toEqual(expect.arrayContaining(['--speed=30', '--quality=70']));
    expect(auto.some((a) => a.startsWith('--min-quality='))).toBe(false);
  });

  it('load one video encoder, H.264 for native clients, in auto and high; none in low', () => {
    const videoEncoders = (quality: string) => xpraArguments({ ...base, quality } as SessionSpec).filter((a) => a.startsWith('--video-encoders='));
    expect(videoEncoders('auto')).toEqual(['--video-encoders=x264']);
    expect(videoEncoders('high')).toEqual(['--video-encoders=x264']);
    expect(videoEncoders('low')).toEqual(['--video-encoders=none']);
  });

  it("size the largest screen by preset: 1080p for low, 2560x1600 for auto, 4K for high", () => {
    expect(env('low').HACKSTREAM_MAX_SCREEN).toBe('1920x1080');
    expect(env('auto').HACKSTREAM_MAX_SCREEN).toBe('2560x1600');
    expect(env('high').HACKSTREAM_MAX_SCREEN).toBe('3840x2160');
  });

  it("give xpra a floor between a changing window's updates in auto (50 ms) and low (80 ms), none in high; Firefox's frame rate its own", () => {
    expect(env('auto')).toMatchObject({ XPRA_BATCH_ALWAYS: '1', XPRA_BATCH_MIN_DELAY: '50', XPRA_BATCH_EXPIRE_DELAY: '50', HACKSTREAM_SCROLLBARS: 'shown' });
    expect(env('low')).toMatchObject({ XPRA_BATCH_ALWAYS: '1', XPRA_BATCH_MIN_DELAY: '80', XPRA_BATCH_EXPIRE_DELAY: '80', HACKSTREAM_SCROLLBARS: 'hidden' });
    expect(Object.keys(env('high')).filter((k) => k.startsWith('XPRA_'))).toEqual([]);
    for (const quality of ['low', 'auto', 'high']) expect(env(quality)).not.toHaveProperty('HACKSTREAM_FRAME_RATE');
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
