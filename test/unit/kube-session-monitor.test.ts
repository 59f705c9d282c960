/**
 * How a session's pod ended, read from its status (podEndOf), and the Kubernetes session monitor
 * one pass at a time with a fake pod listing and recorded signals: each pod's end told once, a
 * failed signal told again, a new pod of the same session is another pod.
 */
import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { podEndOf, type KubeManagedPod, type KubePodEnd } from '../../activities/kube-session-runtime.js';
import { createLogger } from '../../core/logger.js';
import { KubeSessionMonitor } from '../../worker/kube-session-monitor.js';

const pod = (status: V1Pod['status']): V1Pod => ({ metadata: { name: 'hs-s1', uid: 'u1' }, spec: { containers: [] }, status });

describe('podEndOf', () => {
  it('is null while the pod may still run, a node shortage or not ready included', () => {
    expect(podEndOf(pod({ phase: 'Pending' }))).toBeNull();
    expect(podEndOf(pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] }))).toBeNull();
    expect(podEndOf(pod({ phase: 'Running', conditions: [{ type: 'DisruptionTarget', status: 'False', reason: 'DeletionByTaintManager' }] }))).toBeNull();
  });

  it('is node_lost when the cluster took the pod away because its node is gone, whatever its phase', () => {
    const tainted = pod({ phase: 'Running', conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint' }] });
    expect(podEndOf(tainted)).toEqual({ reason: 'node_lost', detail: 'DeletionByTaintManager: Taint manager: deleting due to NoExecute taint' });
    expect(podEndOf(pod({ phase: 'Failed', conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC' }] }))).toMatchObject({ reason: 'node_lost' });
  });

  it('is evicted when the cluster took it away from a node that still runs (a drain, a preemption, the kubelet)', () => {
    for (const reason of ['EvictionByEvictionAPI', 'PreemptionByScheduler', 'TerminationByKubelet']) {
      expect(podEndOf(pod({ phase: 'Running', conditions: [{ type: 'DisruptionTarget', status: 'True', reason }] }))).toEqual({ reason: 'evicted', detail: reason });
    }
  });

  it("is app_exited with the session container's exit code when the pod ended by itself", () => {
    const exited = (phase: string, exitCode?: number) =>
      pod({ phase, containerStatuses: [{ name: 'session', image: 'i', imageID: '', ready: false, restartCount: 0, ...(exitCode === undefined ? {} : { state: { terminated: { exitCode } } }) }] });
    expect(podEndOf(exited('Succeeded', 0))).toEqual({ reason: 'app_exited', exitCode: 0 });
    expect(podEndOf(exited('Failed', 137))).toEqual({ reason: 'app_exited', exitCode: 137 });
    expect(podEndOf(exited('Failed'))).toEqual({ reason: 'app_exited', exitCode: null });
  });
});

describe('KubeSessionMonitor', () => {
  const managed = (sessionId: string, uid: string, end: KubePodEnd | null): KubeManagedPod => ({
    sessionId,
    uid,
    state: { name: `hs-${sessionId}`, windowClass: 'Navigator', phase: end ? 'Failed' : 'Running', ready: !end, ip: null, nodeName: 'node-a', image: 'i', persistent: false, pool: null, limits: {}, end },
    createdAt: 0,
  });

  function setup() {
    let pods: KubeManagedPod[] = [];
    const signals: string[] = [];
    let failNext = false;
    const record = async (text: string) => {
      if (failNext) {
        failNext = false;
        throw new Error('Temporal did not answer');
      }
      signals.push(text);
    };
    const monitor = new KubeSessionMonitor({
      runtime: { listManaged: async () => pods },
      workflows: { nodeLost: (id) => record(`${id} node_lost`), appExited: (id, exit) => record(`${id} app_exited ${exit.exitCode}`) },
      logger: createLogger({ service: 'test', level: 'error' }),
    });
    return { monitor, signals, setPods: (p: KubeManagedPod[]) => (pods = p), failNextSignal: () => (failNext = true) };
  }

  it("tells each pod's end once, and nothing of pods that run", async () => {
    const { monitor, signals, setPods } = setup();
    setPods([
      managed('s1', 'u1', null),
      managed('s2', 'u2', { reason: 'node_lost', detail: 'DeletionByTaintManager' }),
      managed('s3', 'u3', { reason: 'app_exited', exitCode: 0 }),
      managed('s4', 'u4', { reason: 'evicted', detail: 'EvictionByEvictionAPI' }),
    ]);
    expect((await monitor.pass()).map((t) => t.sessionId)).toEqual(['s2', 's3', 's4']);
    expect(await monitor.pass()).toEqual([]);
    // An evicted pod's app ended with it, as a container gone without an exit code.
    expect(signals).toEqual(['s2 node_lost', 's3 app_exited 0', 's4 app_exited null']);
  });

  it('tells again at the next pass what it could not tell, and a new pod of the same session anew', async () => {
    const { monitor, signals, setPods, failNextSignal } = setup();
    setPods([managed('s1', 'u1', { reason: 'node_lost', detail: 'x' })]);
    failNextSignal();
    expect(await monitor.pass()).toEqual([]);
    expect(await monitor.pass()).toHaveLength(1);
    // The pod removed, then a pod of the same name made again (another uid) that ends too.
    setPods([]);
    await monitor.pass();
    setPods([managed('s1', 'u9', { reason: 'app_exited', exitCode: 1 })]);
    await monitor.pass();
    expect(signals).toEqual(['s1 node_lost', 's1 app_exited 1']);
  });
});
