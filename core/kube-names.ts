/**
 * What Kubernetes accepts as names and labels (its API machinery's validation), checked where
 * settings are parsed: a bad value fails the worker's start with a message, not its first session.
 */

/** A namespace's, service's or claim's name: an RFC 1123 label. */
export const KUBE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A node's or storage class's name: an RFC 1123 subdomain. */
export const KUBE_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A label's name part and a label's value (a value may also be empty). */
const LABEL_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/** Whether Kubernetes takes this as a label's value. */
export const isKubeLabelValue = (value: string): boolean => value === '' || LABEL_NAME.test(value);

const isLabelKey = (key: string): boolean => {
  const slash = key.indexOf('/');
  if (slash === -1) return LABEL_NAME.test(key);
  return KUBE_SUBDOMAIN.test(key.slice(0, slash)) && LABEL_NAME.test(key.slice(slash + 1));
};

/** `key=value,key=value` (keys with a prefix such as app.kubernetes.io/name) into a record, or the first entry that is not one. */
export function parseKubeLabels(text: string): { ok: true; labels: Record<string, string> } | { ok: false; bad: string } {
  const labels: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, value, ...rest] = part.split('=');
    if (key === undefined || value === undefined || rest.length > 0 || !isLabelKey(key) || (value !== '' && !LABEL_NAME.test(value)) || key in labels) return { ok: false, bad: part };
    labels[key] = value;
  }
  return { ok: true, labels };
}
