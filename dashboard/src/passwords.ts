/** The API refuses new passwords shorter than this (api/validation.ts): say so before sending. */
export const MIN_PASSWORD_LENGTH = 12;

export function passwordProblem(password: string, repeat: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `The new password must be at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password !== repeat) return 'The two passwords differ.';
  return null;
}
