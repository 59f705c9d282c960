/**
 * How the worker and the CA's hook reach the cluster: KUBECONFIG's file when set, else the pod's
 * service account. A module of its own so that the hook does not load the session runtime.
 */
import { KubeConfig } from '@kubernetes/client-node';

export function clusterCredentials(kubeconfigFile: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (kubeconfigFile) config.loadFromFile(kubeconfigFile);
  else config.loadFromCluster();
  return config;
}
