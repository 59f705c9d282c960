/**
 * What a session can be: the apps in the catalog, the quality presets and the profile modes.
 * The API validates requests against these, the configuration parses pools with them, and the
 * workflow contract (workflows/messages.ts) carries their types.
 */
export const APPS = ['firefox'] as const;
export type App = (typeof APPS)[number];

export const QUALITIES = ['low', 'auto', 'high'] as const;
export type Quality = (typeof QUALITIES)[number];

export const PROFILES = ['ephemeral'] as const;
export type Profile = (typeof PROFILES)[number];

/** Profiles a warm container can serve: nothing of the user's has to be mounted at start. */
export const WARM_PROFILES: readonly Profile[] = ['ephemeral'];
