import { useState } from 'preact/hooks';
import { errorMessage } from '../api';
import { send } from '../http';
import { Alert, Field, Status } from '../components/ui';
import { MIN_PASSWORD_LENGTH, passwordProblem } from '../passwords';

export function RedeemPage() {
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  const submit = async () => {
    const problem = passwordProblem(password, repeat);
    if (problem) return setError(problem);
    setBusy(true);
    setError(null);
    try {
      // Public endpoint: the invitation code is the credential, no token involved.
      await send('POST', '/v1/redeem', { code: code.trim(), password });
      setDone(true);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="narrow">
      <h1 tabIndex={-1}>Redeem an invitation</h1>
      {done ? (
        <Status class="ok">
          <p>Password set: you can log in now.</p>
          <p>
            <a href="#/login">Log in</a>
          </p>
        </Status>
      ) : (
        <form
          noValidate
          class="card"
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <Field id="redeem-code" label="Invitation code">
            <input id="redeem-code" name="code" autocomplete="off" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          </Field>
          <Field id="redeem-password" label="New password" hint={`At least ${MIN_PASSWORD_LENGTH} characters.`}>
            <input
              id="redeem-password"
              type="password"
              autocomplete="new-password"
              required
              minLength={MIN_PASSWORD_LENGTH}
              aria-describedby="redeem-password-hint"
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </Field>
          <Field id="redeem-repeat" label="Repeat password">
            <input id="redeem-repeat" type="password" autocomplete="new-password" required value={repeat} onInput={(e) => setRepeat(e.currentTarget.value)} />
          </Field>
          <Alert message={error} />
          <button type="submit" disabled={busy}>
            Set password
          </button>
        </form>
      )}
    </div>
  );
}
