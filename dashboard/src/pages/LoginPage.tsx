import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api';
import { login, proxySignIn } from '../auth';
import { Alert, Field, Status } from '../components/ui';
import { send } from '../http';
import type { SignInMethods } from '../types';

/**
 * `auto`: sign in through the operator's sign-in proxy at once when the page came through it
 * (not after the user logged out on purpose: they choose again).
 */
export function LoginPage({ message, auto }: { message?: string | undefined; auto: boolean }) {
  const [methods, setMethods] = useState<SignInMethods | null>(null);
  const [proxyBusy, setProxyBusy] = useState(false);
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

  const viaProxy = async () => {
    setProxyBusy(true);
    setError(null);
    try {
      await proxySignIn();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setProxyBusy(false);
    }
  };
  useEffect(() => {
    send<SignInMethods>('GET', '/v1/auth/methods').then(
      (found) => {
        setMethods(found);
        if (found.proxy && auto) void viaProxy();
      },
      // Unknown: offer the password form, as before there was a choice.
      () => setMethods({ password: true, proxy: false }),
    );
  }, []);

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

  if (!methods) {
    return (
      <div class="narrow">
        <h1 tabIndex={-1}>Log in</h1>
        <Status>Loading…</Status>
      </div>
    );
  }
  return (
    <div class="narrow">
      <h1 tabIndex={-1}>Log in</h1>
      {message ? <Status>{message}</Status> : null}
      {methods.proxy ? (
        <div class="card">
          <p>You are signed in to your organisation.</p>
          <button type="button" id="proxy-sign-in" disabled={proxyBusy} onClick={() => void viaProxy()}>
            {proxyBusy ? 'Signing in…' : 'Continue with your organisation’s sign-in'}
          </button>
        </div>
      ) : null}
      {methods.password ? (
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
          <button type="submit" disabled={busy}>
            Log in
          </button>
        </form>
      ) : null}
      <Alert message={error} />
      {methods.password ? (
        <p>
          <a href="#/redeem">Redeem an invitation</a>
        </p>
      ) : null}
      {!methods.password && !methods.proxy ? <Status>Sign in through your organisation’s sign-in page: open this site through it.</Status> : null}
    </div>
  );
}
