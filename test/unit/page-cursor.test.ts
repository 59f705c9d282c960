import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodePageCursor, encodePageCursor } from '../../core/page-cursor.js';

const b64 = (s: string) => Buffer.from(s).toString('base64url');

describe('page cursors', () => {
  it('read back what they encode', () => {
    const at = new Date('2026-12-01T10:00:00.123Z');
    const id = randomUUID();
    expect(decodePageCursor(encodePageCursor(at, id))).toEqual({ at, id });
  });

  it.each([
    ['not base64 of anything', '%%%'],
    ['no id', b64('1700000000000')],
    ['an id that is no UUID (PostgreSQL could not compare it)', b64('1700000000000|x')],
    ['a time out of range', b64(`1e17|${randomUUID()}`)],
    ['a negative time', b64(`-5|${randomUUID()}`)],
    ['a fraction', b64(`1.5|${randomUUID()}`)],
    ['extra parts', b64(`1700000000000|${randomUUID()}|x`)],
  ])('refuse %s', (_what, cursor) => {
    expect(decodePageCursor(cursor)).toBeNull();
  });
});
