/**
 * The xpra server options a session's container starts with (appended to the image's
 * entrypoint): its TLS socket for native clients with the one-time token check, the role's
 * policy (clipboard, file transfer), and the quality preset (core/quality-presets.ts).
 */
import { launchOf, type Quality } from '../core/catalog.js';
import { XPRA_SSL_PORT } from '../core/ingress-names.js';
import { QUALITY_PRESETS } from '../core/quality-presets.js';
import type { SessionSpec } from '../workflows/messages.js';
import { FILES, SESSION_FILES_MOUNT } from './session-files.js';

/** A preset's environment: xpra's own settings, the entrypoint's and the start-app script's (images/session/). */
function presetEnvironment(quality: Quality): Record<string, string> {
  const { xpraEnvironment, firefox, maxScreen } = QUALITY_PRESETS[quality];
  return { ...xpraEnvironment, HACKSTREAM_MAX_SCREEN: maxScreen, HACKSTREAM_SCROLLBARS: firefox.scrollbars ? 'shown' : 'hidden' };
}

/** How the node runs its session containers, whatever the session (the worker's settings). */
export interface ContainerOptions {
  /** Whether the container's memory may be merged with other sessions' (images/session/memory-merge.py). */
  memoryMerge?: boolean;
}

/**
 * What a session's container starts its app with (images/session/entrypoint.sh, start-app.sh),
 * whichever runtime runs it: the app's command, its first page, the preset's settings, for a
 * warm container that it waits for its session's URL (url-watch.sh), and the node's options.
 */
export function sessionEnvironment(spec: SessionSpec, opts: { warm?: boolean } & ContainerOptions = {}): Record<string, string> {
  return {
    HACKSTREAM_APP_COMMAND: launchOf(spec).command,
    HACKSTREAM_URL: spec.url ?? 'about:blank',
    ...presetEnvironment(spec.quality),
    ...(opts.warm ? { HACKSTREAM_WARM: '1' } : {}),
    ...(opts.memoryMerge ? { HACKSTREAM_MEMORY_MERGE: '1' } : {}),
  };
}

const yesNo = (v: boolean) => (v ? 'yes' : 'no');

/**
 * Where the container's token check reads the session's token public key and the bound of the
 * native tokens an account change refused: the session's files on a Docker host; on Kubernetes
 * (kube-session-objects.ts) the second, and a warm pod's key, are in the files its pod gets
 * after its start.
 */
export interface TokenFiles {
  tokenPublicKey: string;
  tokensRefusedUntil: string;
}

const HOST_TOKEN_FILES: TokenFiles = {
  tokenPublicKey: `${SESSION_FILES_MOUNT}/${FILES.tokenPublicKey}`,
  tokensRefusedUntil: `${SESSION_FILES_MOUNT}/${FILES.tokensRefusedUntil}`,
};

export function xpraArguments(spec: SessionSpec, tokenFiles: TokenFiles = HOST_TOKEN_FILES): string[] {
  return [
    `--bind-ssl=0.0.0.0:${XPRA_SSL_PORT}`,
    `--ssl-cert=${SESSION_FILES_MOUNT}/${FILES.cert}`,
    `--ssl-key=${SESSION_FILES_MOUNT}/${FILES.key}`,
    // Clients present no certificate; they authenticate with the one-time token instead.
    '--ssl-client-verify-mode=none',
    // xpra 3.1 defaults to TLS 1.2 only; this allows 1.3 as well (and nothing older than 1.2).
    '--ssl-protocol=TLS',
    `--ssl-auth=hackstream:pubkey=${tokenFiles.tokenPublicKey},refused_until=${tokenFiles.tokensRefusedUntil}`,
    `--clipboard=${yesNo(spec.policy.clipboard)}`,
    `--file-transfer=${yesNo(spec.policy.fileTransfer)}`,
    ...QUALITY_PRESETS[spec.quality].xpraServer,
  ];
}
