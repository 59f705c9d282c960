/** Reading one sample out of a Prometheus text exposition (the API's or a worker's GET /metrics). */

/** The value of `series` (name and labels exactly as exposed), or null when it is not there. */
export function metricValue(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : null;
}

/** `series` as the endpoint at `url` exposes it now (a scrape); NaN when it is not there. */
export async function scrapedValue(url: string, series: string): Promise<number> {
  return metricValue(await (await fetch(url)).text(), series) ?? NaN;
}
