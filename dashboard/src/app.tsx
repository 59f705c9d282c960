/** The shell: who is logged in, which page the hash names, and the redirects between them. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage, get } from './api';
import { authState, onAuthChange, resume, type AuthState } from './auth';
import { Alert } from './components/ui';
import { Header } from './components/Header';
import { AccountPage } from './pages/AccountPage';
import { AdminSessionsPage } from './pages/AdminSessionsPage';
import { AuditPage } from './pages/AuditPage';
import { LoginPage } from './pages/LoginPage';
import { NodesPage } from './pages/NodesPage';
import { OverviewPage } from './pages/OverviewPage';
import { RedeemPage } from './pages/RedeemPage';
import { SessionsPage } from './pages/SessionsPage';
import { UsersPage } from './pages/UsersPage';
import { navigate, useRoute } from './router';
import type { Me } from './types';

const PUBLIC_ROUTES = new Set(['/login', '/redeem']);

const TITLES: Record<string, string> = {
  '/': 'Sessions',
  '/account': 'Account',
  '/admin': 'Overview',
  '/admin/sessions': 'All sessions',
  '/admin/users': 'Users',
  '/admin/nodes': 'Nodes',
  '/admin/audit': 'Audit log',
  '/login': 'Log in',
  '/redeem': 'Redeem an invitation',
};

function useAuthState(): AuthState {
  const [state, setState] = useState(authState);
  useEffect(() => onAuthChange(setState), []);
  return state;
}

export function App() {
  const auth = useAuthState();
  const route = useRoute();
  const [me, setMe] = useState<Me | null>(null);
  const [meError, setMeError] = useState<string | null>(null);
  // Where a logged-out visitor was going, to take them there after the login.
  const returnTo = useRef('/');

  const loadMe = async () => {
    try {
      setMe(await get<Me>('/v1/me'));
      setMeError(null);
    } catch (err) {
      setMeError(errorMessage(err));
    }
  };

  useEffect(() => {
    if (auth.status === 'in') void loadMe();
    else if (auth.status === 'out') setMe(null);
  }, [auth.status]);

  useEffect(() => {
    if (auth.status === 'out' && !PUBLIC_ROUTES.has(route)) {
      returnTo.current = auth.startOver ? '/' : route;
      navigate('/login', true);
    } else if (auth.status === 'in' && route === '/login') {
      const target = returnTo.current;
      returnTo.current = '/';
      navigate(target, true);
    }
  }, [auth, route]);

  useEffect(() => {
    document.title = `${TITLES[route] ?? 'Not found'} · HackStream`;
  }, [route]);

  // Moves focus to the new page's heading, as a page load would, so screen readers announce it.
  const firstRoute = useRef(true);
  useEffect(() => {
    if (firstRoute.current) {
      firstRoute.current = false;
      return;
    }
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [route]);

  if (auth.status === 'loading') return <Shell title="Loading…" />;
  if (auth.status === 'offline') {
    return (
      <Shell title="HackStream">
        <Alert message={auth.message} />
        <button type="button" onClick={() => void resume()}>
          Try again
        </button>
      </Shell>
    );
  }
  if (route === '/redeem') return <Page>{<RedeemPage />}</Page>;
  if (auth.status === 'out') return <Page>{<LoginPage message={auth.message} auto={!auth.startOver} />}</Page>;
  if (!me) {
    return (
      <Shell title={meError ? 'HackStream' : 'Loading…'}>
        <Alert message={meError} />
        {meError ? (
          <button type="button" onClick={() => void loadMe()}>
            Try again
          </button>
        ) : null}
      </Shell>
    );
  }
  return (
    <>
      <Header me={me} route={route} />
      <main id="main">{pageFor(route, me, loadMe)}</main>
    </>
  );
}

function pageFor(route: string, me: Me, reloadMe: () => Promise<void>) {
  const admin = (page: ComponentChildren) => (me.role === 'admin' ? page : <h1 tabIndex={-1}>Admins only.</h1>);
  switch (route) {
    case '/':
    case '/login':
      return <SessionsPage />;
    case '/account':
      return <AccountPage me={me} onChanged={() => void reloadMe()} />;
    case '/admin':
      return admin(<OverviewPage />);
    case '/admin/sessions':
      return admin(<AdminSessionsPage />);
    case '/admin/users':
      return admin(<UsersPage myId={me.id} />);
    case '/admin/nodes':
      return admin(<NodesPage />);
    case '/admin/audit':
      return admin(<AuditPage />);
    default:
      return <h1 tabIndex={-1}>Not found</h1>;
  }
}

/** Pages without the logged-in header (login, redeem). */
function Page({ children }: { children: ComponentChildren }) {
  return (
    <>
      <header class="top">
        <div class="bar">
          <span class="brand">HackStream</span>
        </div>
      </header>
      <main id="main">{children}</main>
    </>
  );
}

function Shell({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <Page>
      <h1 tabIndex={-1}>{title}</h1>
      {children}
    </Page>
  );
}
