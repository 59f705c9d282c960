import { describe, expect, it } from 'vitest';
import { kubeSessionObjects, type KubeSessionPlacement } from '../../activities/kube-session-objects.js';
import { testSessionSpec } from '../support/session-spec.js';

const placement: KubeSessionPlacement = { namespace: 'sessions', stack: 'hs', ingress: { namespace: 'traefik', podLabels: { app: 'traefik' } } };
const envOf = (where: KubeSessionPlacement) => kubeSessionObjects(testSessionSpec('hackstream/session-firefox:latest'), {}, where).pod.spec!.containers[0]!.env ?? [];

describe("a session pod's environment", () => {
  it("allows memory merging only when the worker's placement says so", () => {
    expect(envOf(placement).map((e) => e.name)).not.toContain('HACKSTREAM_MEMORY_MERGE');
    expect(envOf({ ...placement, memoryMerge: false }).map((e) => e.name)).not.toContain('HACKSTREAM_MEMORY_MERGE');
    expect(envOf({ ...placement, memoryMerge: true })).toContainEqual({ name: 'HACKSTREAM_MEMORY_MERGE', value: '1' });
  });
});

describe("a session pod's user namespace", () => {
  const podOf = (where: KubeSessionPlacement) => kubeSessionObjects(testSessionSpec('hackstream/session-firefox:latest'), {}, where).pod.spec!;
  it('is its own unless the placement says the cluster has none', () => {
    expect(podOf(placement).hostUsers).toBe(false);
    expect(podOf({ ...placement, userNamespaces: true }).hostUsers).toBe(false);
    expect(podOf({ ...placement, userNamespaces: false })).not.toHaveProperty('hostUsers');
  });
});
