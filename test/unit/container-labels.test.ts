import { describe, expect, it } from 'vitest';
import { LABELS, parseLabels, serializeLabels } from '../../activities/container-labels.js';

describe('container labels', () => {
  const labels = { sessionId: '6f1c9c9e-2b8e-4a43-9c55-0d3f1f0e8a11', userId: 'b1d2c3e4-0000-4000-8000-000000000001', app: 'firefox' };

  it('round-trips', () => {
    expect(parseLabels(serializeLabels(labels))).toEqual(labels);
  });

  it('refuses values that could not be ours', () => {
    expect(() => serializeLabels({ ...labels, app: 'fire fox; rm -rf' })).toThrow(/not a safe identifier/);
  });

  it('rejects damaged or foreign label sets', () => {
    const good = serializeLabels(labels);
    expect(parseLabels(undefined)).toBeNull();
    expect(parseLabels({ ...good, [LABELS.managed]: 'false' })).toBeNull();
    expect(parseLabels({ ...good, [LABELS.session]: '' })).toBeNull();
    expect(parseLabels({ ...good, [LABELS.user]: '../x' })).toBeNull();
  });
});
