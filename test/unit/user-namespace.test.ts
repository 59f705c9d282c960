/** The subordinate id a container's uid maps to, read from /etc/subuid-style text (worker/user-namespace.ts). */
import { describe, expect, it } from 'vitest';
import { subordinateId } from '../../worker/user-namespace.js';

describe('subordinateId', () => {
  const text = 'alice:165536:65536\ndockremap:100000:65536\n# comment\ndockremap:300000:10\n';

  it("maps an id into the user's first range that covers it", () => {
    expect(subordinateId(text, 'dockremap', 1000)).toBe(101000);
    expect(subordinateId(text, 'dockremap', 0)).toBe(100000);
    expect(subordinateId(text, 'alice', 1000)).toBe(166536);
  });

  it('is null for a user without a range, or one too small for the id', () => {
    expect(subordinateId(text, 'bob', 1000)).toBeNull();
    expect(subordinateId('dockremap:300000:10\n', 'dockremap', 1000)).toBeNull();
    expect(subordinateId('dockremap:x:65536\n', 'dockremap', 1000)).toBeNull();
    expect(subordinateId('', 'dockremap', 1000)).toBeNull();
  });
});
