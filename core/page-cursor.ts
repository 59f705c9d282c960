/**
 * Keyset paging for newest-first lists (the audit log, sessions): a cursor is the last entry's
 * time and id, so pages stay stable while entries are added. Opaque to clients.
 */
export interface PageCursor {
  at: Date;
  id: string;
}

export const encodePageCursor = (at: Date, id: string): string => Buffer.from(`${at.getTime()}|${id}`).toString('base64url');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A cursor this API issued, or null for anything else (what a database could not compare either). */
export function decodePageCursor(cursor: string): PageCursor | null {
  const [at, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const ms = Number(at);
  if (rest.length > 0 || !id || !UUID.test(id) || !Number.isSafeInteger(ms) || ms < 0) return null;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : { at: date, id };
}

/** The query condition of the entries after `cursor` in newest-first order of `timeField`, then id. */
export function olderThan(timeField: string, cursor: PageCursor): Record<string, unknown> {
  return { $or: [{ [timeField]: { $lt: cursor.at } }, { [timeField]: cursor.at, id: { $lt: cursor.id } }] };
}
