/**
 * The native xpra client's command line for a connect descriptor: TLS through the ingress by the
 * session's SNI name, the HackStream CA pinned, the one-time token read from a file (never on the
 * command line, where `ps` would show it), and options per quality preset for a weak device.
 */
import type { ConnectDescriptor } from './api-client.js';
import type { Quality } from './settings.js';

/**
 * Client-side options per preset (the server sends what its own preset allows). `low`: JPEG only,
 * no video decoder, no OpenGL (a Pi's GPU path costs more memory than it saves), and no
 * bandwidth detection: with it on (the client's default) xpra 3.1's server takes the smaller of
 * the preset's cap and the detected limit, which is 0, "none", until it sees congestion, so the
 * low preset's cap never applied to native clients (bench/results/session-bench-client.md).
 * `auto` and `high` leave the choice to xpra.
 */
export const CLIENT_PRESETS: Record<Quality, string[]> = {
  low: ['--encoding=jpeg', '--video-decoders=none', '--opengl=no', '--bandwidth-detection=no'],
  auto: [],
  high: [],
};

/** Options for every attach: nothing a remote Firefox session does not use. */
const COMMON = ['--speaker=off', '--microphone=off', '--webcam=no', '--mmap=no', '--notifications=no'];

export function xpraAttachArguments(
  native: ConnectDescriptor['native'],
  files: { caFile: string; passwordFile: string },
  quality: Quality,
): string[] {
  const host = native.host.includes(':') ? `[${native.host}]` : native.host;
  return [
    'attach',
    `ssl://${host}:${native.port}/`,
    `--ssl-server-hostname=${native.sni}`,
    `--ssl-ca-certs=${files.caFile}`,
    '--ssl-server-verify-mode=required',
    `--username=${native.username}`,
    `--password-file=${files.passwordFile}`,
    '--challenge-handlers=file',
    ...COMMON,
    ...CLIENT_PRESETS[quality],
  ];
}

/**
 * What an `xpra attach` exit code means for the supervisor (xpra 3.1's xpra/exit_codes.py):
 * - detached: 0, the client was closed or the server asked it to go;
 * - transient: 1 connection lost, 2 timeout, 18 connection failed: the network, worth a retry;
 * - auth: 3 password required, 4 password file error, 7 failure (a refused token), 11 no
 *   authentication: retrying with the same kind of credentials would loop;
 * - certificate: 6 encryption, 16 SSL failure, 19 certificate verification failed;
 * - error: anything else (xpra broken or missing).
 */
export type XpraExit = 'detached' | 'transient' | 'auth' | 'certificate' | 'error';

export function classifyXpraExit(code: number | null): XpraExit {
  switch (code) {
    case 0:
      return 'detached';
    case 1:
    case 2:
    case 18:
      return 'transient';
    case 3:
    case 4:
    case 7:
    case 11:
      return 'auth';
    case 6:
    case 16:
    case 19:
      return 'certificate';
    default:
      return 'error';
  }
}
