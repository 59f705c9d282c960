/**
 * The chaos suite's short variant (test/chaos/chaos-run.ts; `npm run chaos` runs it long): the
 * platform from stack/up.sh, two rounds (eight with `stack/test.sh --full`), each killing one of
 * the worker, the API, Temporal, Redis and Traefik at random (dockerd only in the long run: the
 * rest of this suite shares the engine), with zero invariant violations.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from '../chaos/chaos-run.js';
import { FULL_TIER } from '../support/test-tier.js';

const ROUNDS = FULL_TIER ? 8 : 2;

describe('the chaos suite, short', () => {
  it('recovers from a kill -9 of each kind of component with nothing left behind and every quota whole', async () => {
    const report = await runChaos({ rounds: ROUNDS, components: ['worker', 'api', 'temporal', 'redis', 'traefik'], log: (line) => console.log(line) });
    console.log(JSON.stringify({ ...report, recoveryMs: undefined, cleanMs: undefined }));
    expect(report.violations).toEqual([]);
    expect(report.rounds).toBe(ROUNDS);
    expect(report.sessions).toBeGreaterThan(0);
  }, 1_500_000);
});
