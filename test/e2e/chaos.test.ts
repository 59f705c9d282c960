/**
 * The chaos suite's short variant (test/chaos/chaos-run.ts; `npm run chaos` runs it long): the
 * platform from stack/up.sh, four rounds, each killing one of the worker, the API, Temporal,
 * Redis and Traefik (dockerd only in the long run: the rest of this suite shares the engine),
 * with zero invariant violations.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from '../chaos/chaos-run.js';

describe('the chaos suite, short', () => {
  it('recovers from a kill -9 of each kind of component with nothing left behind and every quota whole', async () => {
    const report = await runChaos({ rounds: 4, components: ['worker', 'api', 'temporal', 'redis', 'traefik'], log: (line) => console.log(line) });
    console.log(JSON.stringify({ ...report, recoveryMs: undefined, cleanMs: undefined }));
    expect(report.violations).toEqual([]);
    expect(report.rounds).toBe(4);
    expect(report.sessions).toBeGreaterThan(0);
  }, 1_500_000);
});
