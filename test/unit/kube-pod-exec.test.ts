import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../activities/kube-pod-exec.js';

describe("a pod exec's exit code, from the API server's final status", () => {
  it('is 0 on Success and the ExitCode cause of a NonZeroExitCode failure', () => {
    expect(exitCodeOf({ status: 'Success' })).toBe(0);
    expect(exitCodeOf({ status: 'Failure', reason: 'NonZeroExitCode', message: 'command terminated with non-zero exit code', details: { causes: [{ reason: 'ExitCode', message: '3' }] } })).toBe(3);
  });

  it('throws for any other failure: the command did not run', () => {
    expect(() => exitCodeOf({ status: 'Failure', reason: 'InternalError', message: 'exec: "xpra": executable file not found in $PATH' })).toThrow(/executable file not found/);
    expect(() => exitCodeOf({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: 'x' }] } })).toThrow(/exec failed/);
  });
});
