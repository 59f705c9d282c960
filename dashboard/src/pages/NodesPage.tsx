import { useState } from 'preact/hooks';
import { post } from '../api';
import { Alert, Status, TableWrap, useAction } from '../components/ui';
import { formatAgo, formatMemory } from '../format';
import { usePolledGet } from '../polling';
import type { Node, NodeList, NodeState } from '../types';

/** What an admin may do to a node in each state (the API refuses the rest with 409). */
const ACTIONS: Record<NodeState, Array<{ action: 'approve' | 'drain' | 'revoke'; label: string }>> = {
  pending: [
    { action: 'approve', label: 'Approve' },
    { action: 'revoke', label: 'Revoke' },
  ],
  active: [
    { action: 'drain', label: 'Drain' },
    { action: 'revoke', label: 'Revoke' },
  ],
  draining: [
    { action: 'approve', label: 'Back in service' },
    { action: 'revoke', label: 'Revoke' },
  ],
  lost: [
    { action: 'drain', label: 'Drain' },
    { action: 'revoke', label: 'Revoke' },
  ],
  revoked: [],
};

const labels = (n: Node) =>
  Object.entries(n.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ') || '–';

export function NodesPage() {
  const list = usePolledGet<NodeList>('/v1/nodes', 5000);
  const nodes = list.data?.nodes ?? null;
  const [done, setDone] = useState<string | null>(null);
  const { busy, error, run } = useAction();

  const act = (node: Node, action: 'approve' | 'drain' | 'revoke') =>
    void run(async () => {
      setDone(null);
      const changed = await post<Node>(`/v1/nodes/${encodeURIComponent(node.id)}/${action}`);
      setDone(`Node ${changed.id} is now ${changed.state}.`);
      list.reload();
    });

  return (
    <>
      <h1 tabIndex={-1}>Nodes</h1>
      <p>Session nodes: the hosts whose workers run sessions. New sessions go to active nodes with room.</p>
      <p>Before approving an enrolled node, compare its key fingerprint with the one <code>hackstream-node enroll</code> printed on the node.</p>
      <Alert message={list.error ?? error} />
      {done ? <Status class="ok">{done}</Status> : null}
      {nodes === null ? (
        <p>Loading…</p>
      ) : (
        <TableWrap label="Nodes">
          <table>
            <caption>Nodes</caption>
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">State</th>
                <th scope="col">Labels</th>
                <th scope="col">Sessions</th>
                <th scope="col">Memory reserved</th>
                <th scope="col">Last heartbeat</th>
                <th scope="col">Key fingerprint</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {nodes.length === 0 ? (
                <tr>
                  <td colSpan={8}>No node has registered yet: a worker enters its node when it starts.</td>
                </tr>
              ) : (
                nodes.map((n) => (
                  <tr key={n.id} data-node={n.id}>
                    <th scope="row">{n.id}</th>
                    <td class={`state node-${n.state}`}>{n.state}</td>
                    <td>{labels(n)}</td>
                    <td>
                      {n.reserved.sessions} / {n.capacity.sessions}
                    </td>
                    <td>
                      {formatMemory(n.reserved.memory_mb)} / {formatMemory(n.capacity.memory_mb)}
                    </td>
                    <td>{n.last_heartbeat_at ? <time dateTime={n.last_heartbeat_at}>{formatAgo(n.last_heartbeat_at)}</time> : 'never'}</td>
                    <td>{n.fingerprint ? <code>{n.fingerprint}</code> : 'installed (no key)'}</td>
                    <td>
                      <div class="actions">
                        {ACTIONS[n.state].map(({ action, label }) => (
                          <button key={action} type="button" class="secondary" disabled={busy} onClick={() => act(n, action)}>
                            {label}
                            <span class="visually-hidden"> {n.id}</span>
                          </button>
                        ))}
                      </div>
                    </td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}
