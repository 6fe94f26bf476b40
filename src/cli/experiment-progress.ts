/** The progress lines sweep and find-max print on stderr: the overseer's log and, on a terminal, its live line. */
import type { RunOutput } from '../harness/outputs.js';

export function experimentProgress(quiet: boolean): { log: (line: string) => void; output: RunOutput; clear(): void } {
  const tty = process.stderr.isTTY;
  const log = (line: string): void => {
    if (!quiet) process.stderr.write(`${tty ? '\r\x1b[K' : ''}${line}\n`);
  };
  return {
    log,
    output: {
      progress: (line) => {
        if (!quiet && tty) process.stderr.write(`\r\x1b[K${line}`);
      },
    },
    clear: () => {
      if (!quiet && tty) process.stderr.write('\r\x1b[K');
    },
  };
}
