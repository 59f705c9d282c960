/**
 * Files at rest (security hardening, point 11): nothing under a data directory is readable or
 * writable by other users of the host: the database (password hashes), Temporal's history, logs,
 * secrets, the CA's key, Traefik's configuration and routes, session files. Checked on the data
 * directory of a stack started by stack/up.sh, in test/e2e/quickstart.test.ts (one up.sh run for
 * both), and by files-at-rest.test.ts on a directory built to fail.
 */
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * What may be readable by others, relative to the data directory, each with its reason. Allowed,
 * not required: under stack/up.sh's umask these are private too, but their writers may widen them.
 */
export const PUBLIC_BY_DESIGN: ReadonlyArray<{ path: string; reason: string }> = [
  {
    path: 'ca/ca.pem',
    reason: 'the CA certificate: served at /ca.pem, its fingerprint in every connect descriptor; docker-compose.yml mounts it into the API, which runs as another user',
  },
  {
    path: 'node-ca/ca.pem',
    reason: "the node CA's certificate: every approved node receives it with its own certificate, to check the node gateway's",
  },
  {
    path: 'client-apt/repo/',
    reason: "the client's signed apt repository: served to every device at /apt/",
  },
];

/** Group or other may read or write it (execute alone, on a directory, lets nobody list it). */
const OPEN_BITS = 0o066;

const isException = (relative: string) =>
  PUBLIC_BY_DESIGN.some((e) => (e.path.endsWith('/') ? `${relative}/`.startsWith(e.path) : relative === e.path));

export interface OpenEntry {
  path: string;
  mode: string;
}

/** Every file and directory under `root` (itself included) that others may read or write, exceptions aside. */
export function openEntries(root: string): { open: OpenEntry[]; seen: string[] } {
  const open: OpenEntry[] = [];
  const seen: string[] = [];
  const visit = (relative: string) => {
    const full = path.join(root, relative);
    let st;
    try {
      st = lstatSync(full);
    } catch {
      return; // removed while walking (a temporary file, a session ending)
    }
    if (st.isSymbolicLink()) return; // a link's own mode means nothing; its target is walked where it lives
    seen.push(relative);
    if (st.mode & OPEN_BITS && !isException(relative)) open.push({ path: relative || '.', mode: (st.mode & 0o7777).toString(8).padStart(4, '0') });
    if (st.isDirectory()) for (const name of readdirSync(full).sort()) visit(relative ? path.join(relative, name) : name);
  };
  visit('');
  return { open, seen };
}
