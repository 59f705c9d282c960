/**
 * How session nodes are named, labelled and what states they pass through: the rules the worker's
 * settings, the API and the dashboard share (a plain module: no database behind it).
 */

/**
 * `pending`: enrolled, waiting for an admin; `active`: takes new sessions; `draining`: its running
 * sessions finish, no new one comes; `revoked`: out for good; `lost`: it stopped sending heartbeats.
 */
export const NODE_STATES = ['pending', 'active', 'draining', 'revoked', 'lost'] as const;
export type NodeState = (typeof NODE_STATES)[number];

/** Node names become task queue names and metric labels: short, lower-case, DNS-label-like. */
/** The node a worker is when HACKSTREAM_NODE_ID does not say: a single-host deployment's one node. */
export const DEFAULT_NODE_ID = 'local';

export const NODE_ID_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A label's key and value (HACKSTREAM_NODE_LABELS, a placement's constraints). */
export const NODE_LABEL_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/** At most this many labels a placement may ask for (the role's and the request's together). */
export const MAX_NODE_LABELS = 8;

/**
 * A session's placement constraint: its role's labels and those it asked for. A request may add
 * labels, never change one its role sets: returns the first such key instead.
 */
export function placementLabels(role: Record<string, string>, asked: Record<string, string>): { ok: true; labels: Record<string, string> } | { ok: false; key: string } {
  for (const [k, v] of Object.entries(asked)) if (k in role && role[k] !== v) return { ok: false, key: k };
  return { ok: true, labels: { ...asked, ...role } };
}

export type ParsedLabels = { ok: true; labels: Record<string, string> } | { ok: false; bad: string };

/**
 * `key=value,key=value` into a record (each key once, each pair as `valid` says), or the first
 * entry that is not one.
 */
export function parseLabelList(text: string, valid: (key: string, value: string) => boolean): ParsedLabels {
  const labels: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, value, ...rest] = part.split('=');
    if (key === undefined || value === undefined || rest.length > 0 || !valid(key, value) || key in labels) return { ok: false, bad: part };
    labels[key] = value;
  }
  return { ok: true, labels };
}

/** A node's labels: `key=value,key=value` into a record, or the first entry that is not one. */
export const parseNodeLabels = (text: string): ParsedLabels => parseLabelList(text, (key, value) => NODE_LABEL_PATTERN.test(key) && NODE_LABEL_PATTERN.test(value));

/** How placements choose among the nodes that fit: `binpack` the fullest first, `spread` the emptiest. */
export const PLACEMENT_STRATEGIES = ['binpack', 'spread'] as const;
export type PlacementStrategy = (typeof PLACEMENT_STRATEGIES)[number];

/**
 * The states whose enrolled nodes hold a certificate and may reach Temporal through the node
 * gateway: in service, draining (its sessions still run), or lost (so that it can come back).
 */
export const CONNECTABLE_NODE_STATES: readonly NodeState[] = ['active', 'draining', 'lost'];
