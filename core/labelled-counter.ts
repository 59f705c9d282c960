/**
 * A Prometheus counter with one label whose values form a fixed list, each shown from zero: a
 * rate over any of them never starts with a gap, and the list bounds the number of series. Both
 * the API's and the worker's metrics make theirs so.
 */
import { Counter, type Registry } from 'prom-client';

export function labelledCounter<L extends string>(
  registry: Registry,
  o: { name: string; help: string; label: L; values: Iterable<string> },
): Counter<L> {
  const counter = new Counter<L>({ name: o.name, help: o.help, labelNames: [o.label], registers: [registry] });
  for (const value of o.values) counter.inc({ [o.label]: value } as Partial<Record<L, string>>, 0);
  return counter;
}
