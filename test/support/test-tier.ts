/**
 * Which tier runs: `stack/test.sh` (and `.ci/run`) runs the suite with its slowest checks
 * shortened; `stack/test.sh --full` sets HACKSTREAM_TEST_FULL=1 and runs them at full length
 * (the README's Development section lists which).
 */
export const FULL_TIER = process.env['HACKSTREAM_TEST_FULL'] === '1';
