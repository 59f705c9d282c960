/**
 * Registers the session workflow's custom search attributes (userId, app, sessionState) on the
 * namespace so operators can filter sessions in the Temporal UI. Idempotent: only missing keys
 * are added.
 */
import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../workflows/messages.js';
import type { Logger } from '../core/logger.js';

const grpcStatus = { ALREADY_EXISTS: 6, UNIMPLEMENTED: 12 } as const;
const KEYWORD = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

export async function ensureSearchAttributes(connection: Connection, namespace: string, logger: Logger): Promise<void> {
  let missing = SEARCH_ATTRIBUTES;
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const known = { ...existing.customAttributes, ...existing.systemAttributes };
    missing = SEARCH_ATTRIBUTES.filter((key) => !(key.name in known));
  } catch (err) {
    // Temporal's time-skipping test server cannot list them; adding is still idempotent below.
    if ((err as { code?: number }).code !== grpcStatus.UNIMPLEMENTED) throw err;
  }
  if (missing.length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, KEYWORD])),
    });
    logger.info('registered search attributes', { namespace, keys: missing.map((k) => k.name) });
  } catch (err) {
    // Another worker registering the same keys at the same moment is fine.
    if ((err as { code?: number }).code !== grpcStatus.ALREADY_EXISTS && !/already exists/i.test(String(err))) throw err;
  }
}
