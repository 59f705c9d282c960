/**
 * What a session can be: the apps of the catalog, the quality presets and the profile modes.
 * The catalog is configuration (core/apps.json, or the operator's file named by
 * HACKSTREAM_APP_CATALOG), read once by core/config.ts (core/app-catalog.ts); the API
 * validates requests against it, and a session's spec carries the facts of its app a node needs
 * (`AppLaunch`), so nodes need no catalog of their own.
 */
/** An app's name: what requests, pools (HACKSTREAM_POOL) and role policies name it by. */
export const APP_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
/** What a name that does not match APP_NAME_PATTERN is told. */
export const APP_NAME_RULE = 'is not an app name (a-z, 0-9, -; up to 32)';
export type App = string;

export const QUALITIES = ['low', 'auto', 'high'] as const;
export type Quality = (typeof QUALITIES)[number];

/**
 * `ephemeral`: nothing of the session is kept. `persist`: the app's data lives on the user's own
 * profile volume for that app (activities/profile-volumes.ts), kept across sessions.
 */
export const PROFILES = ['ephemeral', 'persist'] as const;
export type Profile = (typeof PROFILES)[number];

/** The smallest persistent profile (MB) a file system is made for: ext4's own structures need room. */
export const MIN_PROFILE_MB = 16;

/** What a node needs of a session's app to run it, carried in the session's spec (core/app-catalog.ts). */
export interface AppLaunch {
  /** The script in the image xpra starts as its only child. */
  command: string;
  /** The class of the app's main window. */
  windowClass: string;
  /** Where the app keeps its data in the container: a persistent profile is mounted there. */
  dataDir: string;
}

/** The app of a spec made before specs carried their app's facts: every such session ran Firefox. */
const FIREFOX_BEFORE_THE_CATALOG: AppLaunch = {
  command: '/usr/local/bin/hackstream-start-app',
  windowClass: 'firefox-esr',
  dataDir: '/home/hs/.mozilla/hackstream-profile',
};

/** A spec's app launch facts; Firefox's for a spec made before specs carried them. */
export const launchOf = (spec: { launch?: AppLaunch | undefined }): AppLaunch => spec.launch ?? FIREFOX_BEFORE_THE_CATALOG;

/** The window class of a container's app; Firefox's for a container labelled before the catalog. */
export const windowClassOf = (labelled: { windowClass?: string | undefined }): string => labelled.windowClass ?? FIREFOX_BEFORE_THE_CATALOG.windowClass;

/** Profiles a warm container can serve: nothing of the user's has to be mounted at start. */
export const WARM_PROFILES: readonly Profile[] = ['ephemeral'];
