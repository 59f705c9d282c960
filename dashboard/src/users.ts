/** The user directory, for admin pages that show usernames where the API gives ids. */
import { useEffect, useState } from 'preact/hooks';
import { errorMessage, get } from './api';
import type { User } from './types';

export function useUsers() {
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    get<{ users: User[] }>('/v1/users').then(
      (answer) => alive && setUsers([...answer.users].sort((a, b) => a.username.localeCompare(b.username))),
      (err: unknown) => alive && setError(errorMessage(err)),
    );
    return () => {
      alive = false;
    };
  }, []);
  const nameOf = (id: string | null): string => {
    if (!id) return '—';
    return users?.find((u) => u.id === id)?.username ?? id;
  };
  return { users, error, nameOf };
}

/** The users as a filter's choices: ids shown by name. */
export function userChoices(users: User[] | null): Array<{ value: string; label: string }> {
  return (users ?? []).map((u) => ({ value: u.id, label: u.username }));
}
