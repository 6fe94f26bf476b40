/** Process exit codes of every tpslab command (docs/cli.md lists them). */
export const EXIT = {
  ok: 0,
  /** Something failed: a coded error was printed. */
  error: 1,
  /** The command line was wrong (unknown option, missing argument). */
  usage: 2,
  /** A run finished but breached a threshold. */
  thresholdBreach: 3,
  /** Interrupted by SIGINT (128 + 2), or by SIGTERM (128 + 15): the run is stored as aborted. */
  sigint: 130,
  sigterm: 143,
} as const;
