/**
 * The xpra server options a session's container starts with (appended to the image's
 * entrypoint): its TLS socket for native clients with the one-time token check, the role's
 * policy (clipboard, file transfer), and the quality preset.
 */
import type { Quality, SessionSpec } from '../workflows/messages.js';
import { FILES, SESSION_FILES_MOUNT } from './session-files.js';

/** The websocket (browser path, behind Traefik's ForwardAuth) and TLS (native path) ports. */
export const XPRA_WS_PORT = 14500;
export const XPRA_SSL_PORT = 14501;

/**
 * Quality presets, chosen for weak clients. `low`: JPEG only (cheap to decode, no video
 * decoder needed), low quality at high speed, bandwidth capped at 1 Mbit/s. `auto`: xpra's own
 * adaptive choice. `high`: lossy encodings kept near lossless, slower encoding allowed. The
 * HTML5 client gets matching options in api/connect/connect-descriptor.ts.
 */
export const QUALITY_PRESETS: Record<Quality, string[]> = {
  low: [
    '--encodings=jpeg,png,rgb',
    '--encoding=jpeg',
    '--quality=30',
    '--min-quality=10',
    '--speed=90',
    '--min-speed=50',
    '--video-encoders=none',
    '--bandwidth-limit=1000000',
  ],
  auto: [],
  high: ['--quality=90', '--min-quality=60', '--speed=30'],
};

/**
 * What each preset changes in Firefox itself (environment of the image's start-app script).
 *
 * - `frameRate` (`layout.frame_rate`; 0: Firefox's default): every repaint becomes a screen
 *   update xpra encodes and sends, so fewer of them on a scrolling page cost less bandwidth,
 *   server CPU and client decoding (measured on bench/pages/scroll.html: `low` 4.2 → 2.1 Mbit/s
 *   at 12 fps, `auto` 4.6 → 3.0 Mbit/s at 20 fps).
 * - `scrollbars`: xpra's scroll detection compares whole pixel rows, so the scrollbar's thumb,
 *   moving a little on every frame, makes every row it spans look changed and re-encoded (more
 *   than half of `low`'s bytes while scrolling: 1.4 → 0.62 Mbit/s at 1280×720). `low`
 *   hides them; scrolling with wheel, touch or keys is unaffected.
 */
export const FIREFOX_PRESETS: Record<Quality, { frameRate: number; scrollbars: boolean }> = {
  low: { frameRate: 12, scrollbars: false },
  auto: { frameRate: 20, scrollbars: true },
  high: { frameRate: 0, scrollbars: true },
};

/** The start-app script's environment for a preset (see images/session/start-app.sh). */
export function firefoxEnvironment(quality: Quality): string[] {
  const { frameRate, scrollbars } = FIREFOX_PRESETS[quality];
  return [`HACKSTREAM_FRAME_RATE=${frameRate}`, `HACKSTREAM_SCROLLBARS=${scrollbars ? 'shown' : 'hidden'}`];
}

const yesNo = (v: boolean) => (v ? 'yes' : 'no');

export function xpraArguments(spec: SessionSpec): string[] {
  return [
    `--bind-ssl=0.0.0.0:${XPRA_SSL_PORT}`,
    `--ssl-cert=${SESSION_FILES_MOUNT}/${FILES.cert}`,
    `--ssl-key=${SESSION_FILES_MOUNT}/${FILES.key}`,
    // Clients present no certificate; they authenticate with the one-time token instead.
    '--ssl-client-verify-mode=none',
    // xpra 3.1 defaults to TLS 1.2 only; this allows 1.3 as well (and nothing older than 1.2).
    '--ssl-protocol=TLS',
    `--ssl-auth=hackstream:keyfile=${SESSION_FILES_MOUNT}/${FILES.tokenKey}`,
    `--clipboard=${yesNo(spec.policy.clipboard)}`,
    `--file-transfer=${yesNo(spec.policy.fileTransfer)}`,
    ...QUALITY_PRESETS[spec.quality],
  ];
}
