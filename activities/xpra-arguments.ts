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
 * Firefox's frame rate per preset (`layout.frame_rate`, set by the image's start-app script):
 * every repaint becomes a screen update xpra encodes and sends, so fewer of them on a scrolling
 * page cost less bandwidth, server CPU and client decoding (measured on bench/pages/scroll.html:
 * `low` 4.2 → 2.1 Mbit/s at 12 fps, `auto` 4.6 → 3.0 Mbit/s at 20 fps). 0: Firefox's default.
 */
export const QUALITY_FRAME_RATE: Record<Quality, number> = { low: 12, auto: 20, high: 0 };

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
