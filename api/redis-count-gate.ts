/**
 * A count behind a gate, in Redis, for writing a bounded number of audit rows about a flood of
 * events (throttled logins, refused connects): every event is counted, and the first event of a
 * window opens the gate and takes the count (itself included) for one row; the others are only
 * counted. One atomic script, so the bound holds across API processes.
 */
import type { Redis } from 'ioredis';

/** KEYS: the count, the gate. ARGV: the gate's window, the count's lifetime. */
const COUNT_THROUGH_GATE = `
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return n
end
return 0`;

export interface GateKeys {
  count: string;
  gate: string;
}

/** Counts one event; returns how many events the row to write now stands for, or 0 (only counted). */
export async function countThroughGate(redis: Redis, keys: GateKeys, windowSeconds: number, countTtlSeconds: number): Promise<number> {
  return Number(await redis.eval(COUNT_THROUGH_GATE, 2, keys.count, keys.gate, windowSeconds, countTtlSeconds));
}
