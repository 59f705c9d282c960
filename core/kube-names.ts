/**
 * What Kubernetes accepts as names and labels (its API machinery's validation), checked where
 * settings are parsed: a bad value fails the worker's start with a message, not its first session.
 */
import { NODE_LABEL_PATTERN, parseLabelList, type ParsedLabels } from './node-names.js';

/** A namespace's, service's or claim's name: an RFC 1123 label. */
export const KUBE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A node's or storage class's name: an RFC 1123 subdomain. */
export const KUBE_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A label's name part and a label's value (a value may also be empty): Kubernetes' rule, which node labels follow. */
const LABEL_NAME = NODE_LABEL_PATTERN;

/** Whether Kubernetes takes this as a label's value. */
export const isKubeLabelValue = (value: string): boolean => value === '' || LABEL_NAME.test(value);

const isLabelKey = (key: string): boolean => {
  const slash = key.indexOf('/');
  if (slash === -1) return LABEL_NAME.test(key);
  return KUBE_SUBDOMAIN.test(key.slice(0, slash)) && LABEL_NAME.test(key.slice(slash + 1));
};

/** `key=value,key=value` (keys with a prefix such as app.kubernetes.io/name) into a record, or the first entry that is not one. */
export const parseKubeLabels = (text: string): ParsedLabels => parseLabelList(text, (key, value) => isLabelKey(key) && isKubeLabelValue(value));
