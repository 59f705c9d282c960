import { useState } from 'preact/hooks';
import { logout } from '../api';
import type { Me } from '../types';

const LINKS: { path: string; label: string; admin: boolean }[] = [
  { path: '/', label: 'Sessions', admin: false },
  { path: '/account', label: 'Account', admin: false },
  { path: '/admin', label: 'Overview', admin: true },
  { path: '/admin/sessions', label: 'All sessions', admin: true },
  { path: '/admin/users', label: 'Users', admin: true },
  { path: '/admin/nodes', label: 'Nodes', admin: true },
  { path: '/admin/audit', label: 'Audit', admin: true },
];

export function Header({ me, route }: { me: Me; route: string }) {
  const [leaving, setLeaving] = useState(false);
  return (
    <header class="top">
      <div class="bar">
        <a class="brand" href="#/">
          HackStream
        </a>
        <span class="who">
          {me.username}
          {me.role === 'admin' ? ' (admin)' : ''}
        </span>
        <button
          type="button"
          class="secondary"
          disabled={leaving}
          onClick={() => {
            setLeaving(true);
            void logout();
          }}
        >
          Log out
        </button>
      </div>
      <nav aria-label="Main">
        <ul>
          {LINKS.filter((l) => !l.admin || me.role === 'admin').map((l) => (
            <li key={l.path}>
              <a href={`#${l.path}`} aria-current={route === l.path ? 'page' : undefined}>
                {l.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
    </header>
  );
}
