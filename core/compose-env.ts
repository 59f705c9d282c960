/**
 * The `.env` file docker-compose.yml reads its secrets from: every variable the compose file
 * requires (`${NAME:?…}`) gets a random value, an existing file's values are kept (regenerating a
 * database password would lock the stack out of its own data), and the public host name is the
 * operator's. scripts/compose-env.ts writes it.
 */
import { randomBytes } from 'node:crypto';

/** The variables a compose file requires, in the order it names them. */
export function requiredVariables(composeText: string): string[] {
  return [...new Set([...composeText.matchAll(/\$\{([A-Z][A-Z0-9_]*):\?/g)].map((m) => m[1]!))];
}

export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** Letters and digits only: valid in URLs (Redis, PostgreSQL) and YAML without quoting. */
const secret = () => randomBytes(32).toString('hex');

export interface ComposeEnv {
  text: string;
  /** Variables this run generated (the others were kept from the existing file). */
  generated: string[];
}

export function composeEnv(composeText: string, existing: string | null, publicHost: string | undefined): ComposeEnv {
  const values = parseEnvFile(existing ?? '');
  const generated: string[] = [];
  // The first admin's password: optional in the compose file, but a stack without it has no account.
  for (const name of [...requiredVariables(composeText), 'HACKSTREAM_ADMIN_PASSWORD']) {
    if (!values.get(name)) {
      values.set(name, secret());
      generated.push(name);
    }
  }
  if (publicHost) values.set('HACKSTREAM_PUBLIC_HOST', publicHost);
  const lines = ['# HackStream secrets for docker-compose.yml (keep this file mode 600, back it up with the database).'];
  for (const [name, value] of values) lines.push(`${name}=${value}`);
  return { text: `${lines.join('\n')}\n`, generated };
}
