import { useState } from 'preact/hooks';
import { errorMessage, post } from '../api';
import { endLogin } from '../auth';
import { navigate } from '../router';
import { Alert, Field, Section, Status, useAction } from '../components/ui';
import { MIN_PASSWORD_LENGTH, passwordProblem } from '../passwords';
import type { Me } from '../types';

export function AccountPage({ me, onChanged }: { me: Me; onChanged: () => void }) {
  return (
    <>
      <h1 tabIndex={-1}>Account</h1>
      <p>
        Logged in as <strong>{me.username}</strong> ({me.role}).
      </p>
      <TotpSection enabled={me.totp_enabled} onEnabled={onChanged} />
      <PasswordSection />
    </>
  );
}

/** The base32 secret inside an otpauth:// URI, for authenticators without a camera. */
function secretOf(otpauthUri: string): string {
  try {
    return new URL(otpauthUri).searchParams.get('secret') ?? '';
  } catch {
    return '';
  }
}

function TotpSection({ enabled, onEnabled }: { enabled: boolean; onEnabled: () => void }) {
  const [password, setPassword] = useState('');
  const [enrolment, setEnrolment] = useState<{ otpauth_uri: string; qr_code: string } | null>(null);
  const [code, setCode] = useState('');
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const action = useAction();

  const begin = () =>
    action.run(async () => {
      setEnrolment(await post<{ otpauth_uri: string; qr_code: string }>('/v1/me/totp', { password }));
      setPassword('');
    });
  const confirm = () =>
    action.run(async () => {
      const answer = await post<{ recovery_codes: string[] }>('/v1/me/totp/confirm', { code: code.trim() });
      setRecoveryCodes(answer.recovery_codes);
      setEnrolment(null);
      onEnabled();
    });

  let body;
  if (recoveryCodes) {
    body = (
      <Status class="ok">
        <p>TOTP is enabled. Recovery codes, each usable once instead of a TOTP code:</p>
        <ul class="codes">
          {recoveryCodes.map((c) => (
            <li key={c}>
              <code>{c}</code>
            </li>
          ))}
        </ul>
        <p>
          <strong>Shown only now:</strong> keep them somewhere safe.
        </p>
      </Status>
    );
  } else if (enabled) {
    body = <p>TOTP is enabled. If you lose your authenticator, use a recovery code or ask an admin to reset it.</p>;
  } else if (enrolment) {
    const secret = secretOf(enrolment.otpauth_uri);
    body = (
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void confirm();
        }}
      >
        <p>Scan this code with your authenticator app, then enter the 6 digits it shows.</p>
        <img class="qr" src={enrolment.qr_code} alt="TOTP QR code" width={200} height={200} />
        {secret ? (
          <p>
            Or enter this key by hand: <code class="secret">{secret}</code>
          </p>
        ) : null}
        <Field id="totp-code" label="Code from your authenticator">
          <input
            id="totp-code"
            inputMode="numeric"
            autocomplete="one-time-code"
            pattern="[0-9]{6}"
            maxLength={6}
            required
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
        </Field>
        <Alert message={action.error} />
        <button type="submit" disabled={action.busy}>
          Confirm
        </button>
      </form>
    );
  } else {
    body = (
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void begin();
        }}
      >
        <p>Ask for a code from an authenticator app at each login, on top of the password.</p>
        <Field id="totp-password" label="Password (current)">
          <input id="totp-password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <Alert message={action.error} />
        <button type="submit" disabled={action.busy}>
          Enable TOTP
        </button>
      </form>
    );
  }
  return (
    <Section id="totp" title="Two-factor authentication">
      {body}
    </Section>
  );
}

function PasswordSection() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async () => {
    const problem = passwordProblem(next, repeat);
    if (problem) return setError(problem);
    setBusy(true);
    setError(null);
    try {
      await post('/v1/me/password', { current_password: current, new_password: next });
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
      return;
    }
    // The API ended every login of the account, this one included.
    endLogin('Password changed: log in with the new one.');
    navigate('/login', true);
  };

  return (
    <Section id="password" title="Change password">
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Field id="password-current" label="Current password">
          <input id="password-current" type="password" autocomplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
        </Field>
        <Field id="password-new" label="New password" hint={`At least ${MIN_PASSWORD_LENGTH} characters.`}>
          <input
            id="password-new"
            type="password"
            autocomplete="new-password"
            required
            minLength={MIN_PASSWORD_LENGTH}
            aria-describedby="password-new-hint"
            value={next}
            onInput={(e) => setNext(e.currentTarget.value)}
          />
        </Field>
        <Field id="password-repeat" label="Repeat new password">
          <input id="password-repeat" type="password" autocomplete="new-password" required value={repeat} onInput={(e) => setRepeat(e.currentTarget.value)} />
        </Field>
        <Alert message={error} />
        <button type="submit" disabled={busy}>
          Change password
        </button>
      </form>
    </Section>
  );
}
