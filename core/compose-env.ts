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

const ASSIGNMENT = /^\s*([A-Z][A-Z0-9_]*)=(.*)$/;

export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = ASSIGNMENT.exec(line);
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

/**
 * The file's new text: every line of `existing` kept as it was (comments, settings of the
 * operator's own), empty required variables filled in, the missing ones and the public host added.
 */
export function composeEnv(composeText: string, existing: string | null, publicHost: string | undefined): ComposeEnv {
  const wanted = new Map<string, string>();
  const generated: string[] = [];
  const current = parseEnvFile(existing ?? '');
  // The first admin's password: optional in the compose file, but a stack without it has no account.
  for (const name of [...requiredVariables(composeText), 'HACKSTREAM_ADMIN_PASSWORD']) {
    if (!current.get(name)) {
      wanted.set(name, secret());
      generated.push(name);
    }
  }
  if (publicHost) wanted.set('HACKSTREAM_PUBLIC_HOST', publicHost);
  const lines = existing === null ? ['# HackStream secrets for docker-compose.yml (keep this file mode 600, back it up with the database).'] : existing.replace(/\n$/, '').split('\n');
  const kept = lines.map((line) => {
    const name = ASSIGNMENT.exec(line)?.[1];
    if (name === undefined || !wanted.has(name)) return line;
    const value = wanted.get(name)!;
    wanted.delete(name);
    return `${name}=${value}`;
  });
  for (const [name, value] of wanted) kept.push(`${name}=${value}`);
  return { text: `${kept.join('\n')}\n`, generated };
}
