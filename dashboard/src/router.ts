/** Hash routes (`#/admin/users`): the API serves one index.html under /ui/, whatever the path. */
import { useEffect, useState } from 'preact/hooks';

export function currentRoute(): string {
  const path = location.hash.replace(/^#/, '').split('?')[0] ?? '';
  return path === '' ? '/' : path;
}

export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

/** Goes to `path`; `replace` keeps redirects out of the history, so Back does not bounce. */
export function navigate(path: string, replace = false): void {
  if (replace) location.replace(`#${path}`);
  else location.hash = `#${path}`;
}
