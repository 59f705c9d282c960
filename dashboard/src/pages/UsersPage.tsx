import { useEffect, useState } from 'preact/hooks';
import { errorMessage, get, patch, post } from '../api';
import { Alert, Field, Section, Status, TableWrap } from '../components/ui';
import { formatTime } from '../format';
import { ROLES, type OneTimeCode, type QuotaFields, type Role, type User } from '../types';

type Notice = { kind: 'invite' | 'reset'; username: string; code: OneTimeCode } | { kind: 'message'; text: string };

interface PatchBody {
  role?: Role;
  disabled?: boolean;
  quota?: Partial<QuotaFields> | null;
  reset_password?: true;
  reset_totp?: true;
}

export function UsersPage({ myId }: { myId: string }) {
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<Notice | null>(null);

  const load = async () => {
    try {
      const answer = await get<{ users: User[] }>('/v1/users');
      setUsers([...answer.users].sort((a, b) => a.username.localeCompare(b.username)));
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const replace = (user: User) => setUsers((prev) => prev && prev.map((u) => (u.id === user.id ? user : u)));

  /** One change to one user; the answer replaces its row. */
  const change = async (user: User, body: PatchBody, done: string): Promise<void> => {
    setError(null);
    setNotice(null);
    try {
      const answer = await patch<{ user: User; reset_code?: OneTimeCode }>(`/v1/users/${encodeURIComponent(user.id)}`, body);
      replace(answer.user);
      setNotice(answer.reset_code ? { kind: 'reset', username: user.username, code: answer.reset_code } : { kind: 'message', text: done });
    } catch (err) {
      setError(`${user.username}: ${errorMessage(err)}`);
    }
  };

  return (
    <>
      <h1 tabIndex={-1}>Users</h1>
      <InviteForm
        onInvited={(user, code) => {
          setUsers((prev) => prev && [...prev, user].sort((a, b) => a.username.localeCompare(b.username)));
          setNotice(code ? { kind: 'invite', username: user.username, code } : { kind: 'message', text: `${user.username} created.` });
        }}
        onStart={() => setNotice(null)}
      />
      {notice ? <NoticeBox notice={notice} /> : null}
      <Alert message={error} />
      {users === null ? (
        error ? null : (
          <p>Loading…</p>
        )
      ) : (
        <TableWrap label="Users">
          <table>
            <caption>Users</caption>
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Role</th>
                <th scope="col">State</th>
                <th scope="col">TOTP</th>
                <th scope="col">Max sessions</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <UserRow key={u.id} user={u} isMe={u.id === myId} change={change} />
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}

function NoticeBox({ notice }: { notice: Notice }) {
  if (notice.kind === 'message') return <Status class="ok">{notice.text}</Status>;
  return (
    <Status class="code-box">
      <p>
        {notice.kind === 'invite' ? 'Invitation code' : 'Password reset code'} for {notice.username}: <code>{notice.code.code}</code>
      </p>
      <p>
        <strong>Shown only now: give it to the user.</strong> They redeem it on the login page (Redeem an invitation) before {formatTime(notice.code.expires_at)}.
      </p>
    </Status>
  );
}

function InviteForm({ onInvited, onStart }: { onInvited: (user: User, code: OneTimeCode | undefined) => void; onStart: () => void }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<Role>('user');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const invite = async () => {
    setBusy(true);
    setError(null);
    onStart();
    try {
      // No password: the API creates an invitation and answers with its one-time code.
      const answer = await post<{ user: User; invite?: OneTimeCode }>('/v1/users', { username: username.trim(), role });
      onInvited(answer.user, answer.invite);
      setUsername('');
      setRole('user');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section id="invite" title="Invite a user">
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void invite();
        }}
      >
        <div class="row">
          <Field id="invite-username" label="New username" hint="3 to 64 letters, digits, dots, dashes or underscores.">
            <input
              id="invite-username"
              autocomplete="off"
              required
              aria-describedby="invite-username-hint"
              value={username}
              onInput={(e) => setUsername(e.currentTarget.value)}
            />
          </Field>
          <Field id="invite-role" label="Role">
            <select id="invite-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <Alert message={error} />
        <button type="submit" disabled={busy}>
          Invite
        </button>
      </form>
    </Section>
  );
}

function stateOf(u: User): string {
  if (u.disabled) return 'disabled';
  if (u.pending_password) return 'pending password';
  // Its password is the organisation's, checked by the sign-in proxy.
  return u.identity === 'proxy' ? 'active (sign-in proxy)' : 'active';
}

interface RowProps {
  user: User;
  isMe: boolean;
  change: (user: User, body: PatchBody, done: string) => Promise<void>;
}

function UserRow({ user, isMe, change }: RowProps) {
  const [busy, setBusy] = useState(false);
  const [pendingRole, setPendingRole] = useState<Role | null>(null);
  const saved = user.quota_overrides?.max_sessions;
  const [maxSessions, setMaxSessions] = useState(saved === undefined ? '' : String(saved));
  // What the API answered wins over an edit in progress once it was saved.
  useEffect(() => setMaxSessions(saved === undefined ? '' : String(saved)), [saved]);

  const run = async (body: PatchBody, done: string) => {
    setBusy(true);
    try {
      await change(user, body, done);
    } finally {
      setBusy(false);
      setPendingRole(null);
    }
  };

  const saveQuota = () => {
    const text = maxSessions.trim();
    if (text === '') return run({ quota: null }, `Quota overrides of ${user.username} cleared.`);
    const value = Number(text);
    // The PATCH replaces all overrides: keep the others this editor does not show.
    return run({ quota: { ...user.quota_overrides, max_sessions: value } }, `Max sessions of ${user.username} set to ${value}.`);
  };

  const quotaId = `quota-${user.id}`;
  const roleId = `role-${user.id}`;
  return (
    <tr>
      <th scope="row">
        {user.username}
        {isMe ? ' (you)' : ''}
      </th>
      <td>
        <label for={roleId} class="visually-hidden">
          Role for {user.username}
        </label>
        <select
          id={roleId}
          // The chosen role until the API answers; a refused change then snaps back to the saved one.
          value={pendingRole ?? user.role}
          disabled={busy}
          onChange={(e) => {
            const role = e.currentTarget.value as Role;
            setPendingRole(role);
            void run({ role }, `${user.username} is now ${role === 'admin' ? 'an admin' : 'a user'}.`);
          }}
        >
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </td>
      <td>{stateOf(user)}</td>
      <td>{user.totp_enabled ? 'enabled' : 'off'}</td>
      <td>
        <form
          noValidate
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            void saveQuota();
          }}
        >
          <label for={quotaId} class="visually-hidden">
            Max sessions for {user.username}
          </label>
          <input
            id={quotaId}
            class="number"
            type="number"
            min={0}
            max={1000}
            step={1}
            inputMode="numeric"
            placeholder="default"
            title="Empty: the role's default"
            value={maxSessions}
            onInput={(e) => setMaxSessions(e.currentTarget.value)}
          />
          <button type="submit" class="secondary" disabled={busy}>
            Save quota
          </button>
        </form>
      </td>
      <td>
        <div class="actions">
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={() => void run({ disabled: !user.disabled }, `${user.username} ${user.disabled ? 'enabled' : 'disabled'}.`)}
          >
            {user.disabled ? 'Enable' : 'Disable'}
          </button>
          {user.identity === 'local' ? (
            <button type="button" class="secondary" disabled={busy} onClick={() => void run({ reset_password: true }, `Password of ${user.username} reset.`)}>
              Reset password
            </button>
          ) : null}
          {user.totp_enabled ? (
            <button type="button" class="secondary" disabled={busy} onClick={() => void run({ reset_totp: true }, `TOTP of ${user.username} reset.`)}>
              Reset TOTP
            </button>
          ) : null}
        </div>
      </td>
    </tr>
  );
}
