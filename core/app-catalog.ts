/**
 * The app catalog's format and its one reader: which apps sessions may run, each with the facts
 * of its image. The catalog shipped is core/apps.json; an operator's own file replaces it
 * (HACKSTREAM_APP_CATALOG), read once at start by core/config.ts.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import shippedCatalog from './apps.json' with { type: 'json' };
import { APP_NAME_PATTERN, APP_NAME_RULE, type AppLaunch } from './catalog.js';

const absolutePath = z
  .string()
  .regex(/^(\/[A-Za-z0-9._-]+)+$/, 'must be an absolute path of plain names')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ..');

/** One app of the catalog: what the platform knows of it, all facts of its image. */
export const appDefinitionSchema = z.strictObject({
  /** Its name for people (GET /v1/apps, the dashboard). */
  title: z.string().min(1).max(64),
  /** The session image it runs in (images/build-session-image.sh builds hackstream/session-<app>). */
  image: z.string().min(1).max(256),
  /** The script in the image xpra starts as its only child (images/session/entrypoint.sh). */
  command: absolutePath.regex(/^\/usr\/local\/bin\/hackstream-start-[a-z0-9-]+$/, 'must be one of the image\'s /usr/local/bin/hackstream-start-* scripts'),
  /**
   * The class of its main window: the worker waits for it to know the app is up, and closes it
   * (the app then saves its data and quits) before a persistent session's container goes.
   */
  windowClass: z.string().min(1).max(128),
  /** Where it keeps its data in the container: a persistent profile is mounted there. */
  dataDir: absolutePath.refine((p) => p.startsWith('/home/hs/'), 'must be under the session user\'s home, /home/hs/'),
  /** Whether its sessions may keep a persistent profile (`profile: "persist"`). */
  persistentProfiles: z.boolean(),
  /** Whether it opens the page a session asks for (`url`); an app that does not refuses one. */
  opensUrls: z.boolean(),
  /** Whether a warm pool may keep it ready (HACKSTREAM_POOL); its image must wait for a URL to do so. */
  warm: z.boolean(),
  /**
   * What its sessions may have at most (unset: whatever their role's policy gives); a role's policy
   * decides within it, so an app can be kept from the clipboard or file transfer for every role.
   */
  policy: z.strictObject({ clipboard: z.boolean().default(true), fileTransfer: z.boolean().default(true) }).default({ clipboard: true, fileTransfer: true }),
});
export type AppDefinition = z.output<typeof appDefinitionSchema>;

export const appCatalogSchema = z
  .record(z.string().regex(APP_NAME_PATTERN, APP_NAME_RULE), appDefinitionSchema)
  .refine((c) => Object.keys(c).length > 0, 'lists no app')
  .refine((c) => Object.keys(c).length <= 64, 'lists more than 64 apps');
export type AppCatalog = z.output<typeof appCatalogSchema>;

export const appLaunch = (app: AppDefinition): AppLaunch => ({ command: app.command, windowClass: app.windowClass, dataDir: app.dataDir });

/** The catalog in `file` (the one shipped, core/apps.json, when none), validated; throws an Error that says what is wrong where. */
export function readAppCatalog(file?: string): AppCatalog {
  let raw: unknown = shippedCatalog;
  if (file !== undefined) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read the app catalog ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  const result = appCatalogSchema.safeParse(raw);
  if (!result.success) {
    // A bad key's own message is in its nested issues (zod reports "Invalid key in record").
    const lines = result.error.issues.map((i) => `${i.path.join('.') || '(catalog)'}: ${i.code === 'invalid_key' ? i.issues.map((k) => k.message).join(', ') : i.message}`);
    throw new Error(`the app catalog ${file ?? 'core/apps.json'} is not valid: ${lines.join('; ')}`);
  }
  return result.data;
}
