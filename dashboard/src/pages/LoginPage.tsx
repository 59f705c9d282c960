import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api';
import { login } from '../auth';
import { Alert, Field, Status } from '../components/ui';

export function LoginPage({ message }: { message?: string | undefined }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totpCode, setTotpCode] = useState('');
  const [needsTotp, setNeedsTotp] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const totpInput = useRef<HTMLInputElement>(null);
  // The field appears after a first attempt: take the user straight to it.
  useEffect(() => {
    if (needsTotp) totpInput.current?.focus();
  }, [needsTotp]);

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      await login(username.trim(), password, needsTotp ? totpCode.trim() : undefined);
      // Success changes the auth state: the app leaves this page.
    } catch (err) {
      if (err instanceof ApiError && err.code === 'totp_required') {
        setNeedsTotp(true);
        setError(null);
      } else {
        setError(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="narrow">
      <h1 tabIndex={-1}>Log in</h1>
      {message ? <Status>{message}</Status> : null}
      <form
        noValidate
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Field id="login-username" label="Username">
          <input id="login-username" name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </Field>
        <Field id="login-password" label="Password">
          <input id="login-password" name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        {needsTotp ? (
          <Field id="login-totp" label="TOTP code" hint="The 6 digits your authenticator app shows.">
            <input
              id="login-totp"
              name="totp_code"
              inputMode="numeric"
              autocomplete="one-time-code"
              pattern="[0-9]{6}"
              maxLength={6}
              required
              aria-describedby="login-totp-hint"
              ref={totpInput}
              value={totpCode}
              onInput={(e) => setTotpCode(e.currentTarget.value)}
            />
          </Field>
        ) : null}
        <Alert message={error} />
        <button type="submit" disabled={busy}>
          Log in
        </button>
      </form>
      <p>
        <a href="#/redeem">Redeem an invitation</a>
      </p>
    </div>
  );
}
