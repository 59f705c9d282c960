/** Small building blocks shared by the pages, so that every input has its label and every message its role. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { errorMessage } from '../api';

export function Alert({ message }: { message: string | null | undefined }) {
  return message ? (
    <p role="alert" class="alert">
      {message}
    </p>
  ) : null;
}

export function Status({ children, class: cls }: { children: ComponentChildren; class?: string }) {
  return (
    <div role="status" class={cls ? `status ${cls}` : 'status'}>
      {children}
    </div>
  );
}

export function Field({ id, label, children, hint }: { id: string; label: string; children: ComponentChildren; hint?: string }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {hint ? (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      ) : null}
    </div>
  );
}

/** A list filter's select: `any` (the empty value) first, then the choices. */
export function FilterSelect(props: { id: string; label: string; value: string; onChange: (value: string) => void; choices: ReadonlyArray<string | { value: string; label: string }> }) {
  return (
    <Field id={props.id} label={props.label}>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        <option value="">any</option>
        {props.choices.map((c) => {
          const choice = typeof c === 'string' ? { value: c, label: c } : c;
          return (
            <option key={choice.value} value={choice.value}>
              {choice.label}
            </option>
          );
        })}
      </select>
    </Field>
  );
}

export function Section({ id, title, children }: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section aria-labelledby={id} class="card">
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/**
 * Wide tables scroll sideways on narrow screens; the scrolling box is focusable and named so that
 * keyboard users can scroll it too.
 */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={`${label} table`} tabIndex={0}>
      {children}
    </div>
  );
}

/** Runs a user action: busy while it runs (to disable its button), its error to show. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (action: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}
