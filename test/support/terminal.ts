/**
 * A program in a real pseudo-terminal (tmux), typed at and read from the way a person would:
 * send-keys to type, capture-pane to read the screen.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const EXIT_MARK = '__hackstream_exit__';

export class Terminal {
  private readonly socket = `hs-${randomBytes(4).toString('hex')}`;
  private readonly tmux = (args: string[]) => execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm-256color' } });

  constructor(command: string[]) {
    // The shell prints the exit code after the program and keeps the pane open to be read.
    const script = `${command.map(shellQuote).join(' ')}; echo "${EXIT_MARK} $?"; sleep 600`;
    this.tmux(['new-session', '-d', '-s', 'main', '-x', '200', '-y', '50', 'sh', '-c', script]);
  }

  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-500', '-t', 'main']);
  }

  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.screen();
      if (pattern.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`the terminal never showed ${pattern}; it shows:\n${text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Types `text` and presses Enter. */
  type(text: string): void {
    if (text) this.tmux(['send-keys', '-t', 'main', '-l', text]);
    this.tmux(['send-keys', '-t', 'main', 'Enter']);
  }

  /** The program's exit code, once it has ended. */
  async exitCode(timeoutMs = 60_000): Promise<number> {
    const text = await this.waitFor(new RegExp(`${EXIT_MARK} \\d+`), timeoutMs);
    return Number(new RegExp(`${EXIT_MARK} (\\d+)`).exec(text)![1]);
  }

  close(): void {
    try {
      this.tmux(['kill-server']);
    } catch {
      // already gone
    }
  }
}
