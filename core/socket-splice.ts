/**
 * Joins two TCP connections both ways, unbuffered (interactive streams): when either side closes
 * or fails, both are closed. What the node gateway does with an admitted node's connection, and an
 * edge node's demux with a connection through its tunnel.
 */
import type net from 'node:net';

export function splice(a: net.Socket, b: net.Socket): void {
  a.setNoDelay(true);
  b.setNoDelay(true);
  const end = () => {
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    s.on('error', end);
    s.on('close', end);
  }
  a.pipe(b);
  b.pipe(a);
}
