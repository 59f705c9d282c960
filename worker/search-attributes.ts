/**
 * Registers the session workflow's custom search attributes (userId, app, sessionState) on the
 * namespace so operators can filter sessions in the Temporal UI. Idempotent: only missing keys
 * are added.
 */
import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../workflows/messages.js';
import type { Logger } from '../core/logger.js';

const KEYWORD = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

export async function ensureSearchAttributes(connection: Connection, namespace: string, logger: Logger): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = { ...existing.customAttributes, ...existing.systemAttributes };
  const missing = SEARCH_ATTRIBUTES.filter((key) => !(key.name in known));
  if (missing.length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, KEYWORD])),
    });
    logger.info('registered search attributes', { namespace, keys: missing.map((k) => k.name) });
  } catch (err) {
    // Another worker registering the same keys at the same moment is fine.
    if (!/already exists/i.test(String(err))) throw err;
  }
}
