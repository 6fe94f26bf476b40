/**
 * Ctrl-C for commands that run experiments: the first SIGINT/SIGTERM aborts the signal (the run
 * under way stops cleanly and is stored as aborted), a second one exits at once.
 */
import { EXIT } from './exit-codes.js';

export interface Interrupt {
  signal: AbortSignal;
  /** 130 after SIGINT, 143 after SIGTERM. */
  exitCode(): number;
  dispose(): void;
}

export function interruptOnSignals(log: (line: string) => void): Interrupt {
  const ctl = new AbortController();
  const on = (sig: NodeJS.Signals): void => {
    if (ctl.signal.aborted) process.exit(sig === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint);
    log(`${sig}: stopping the run under way (stored as aborted); a second ${sig} exits at once`);
    ctl.abort(sig);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    signal: ctl.signal,
    exitCode: () => (ctl.signal.reason === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint),
    dispose: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}
