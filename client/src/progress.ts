/** Shows that something is under way: a spinner with elapsed seconds on a terminal (zenity's in the GUI). */

export interface Progress {
  run<T>(label: string, work: () => Promise<T>): Promise<T>;
}

export class TerminalProgress implements Progress {
  async run<T>(label: string, work: () => Promise<T>): Promise<T> {
        if (!process.stderr.isTTY) return work();
    // Loaded here, not at start-up: with its Unicode tables it would cost every command.
    const { default: ora } = await import('ora');
    const spinner = ora({ text: label, stream: process.stderr, discardStdin: false });
    const started = Date.now();
    spinner.start();
    const timer = setInterval(() => (spinner.text = `${label} ${((Date.now() - started) / 1000).toFixed(1)} s`), 100);
    try {
      const result = await work();
      spinner.succeed(`${label} ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return result;
    } catch (err) {
      spinner.fail(label);
      throw err;
    } finally {
      clearInterval(timer);
    }
  }
}
