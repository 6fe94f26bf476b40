/**
 * The contract between `bench/run.ts` and each benchmark module.
 *
 * A benchmark measures tpslab next to a baseline or peer measured on the same
 * machine in the same run, and reports the ratio: on a shared machine absolute
 * numbers are noise, the ratio is the figure.
 */

/** One measured figure. */
export interface BenchRow {
  metric: string;
  value: number;
  /** e.g. "tx/s", "verify/s", "ms", "tx". */
  unit: string;
}

/** A ratio between two figures of the same run: the number to read. */
export interface BenchRatio {
  /** What is divided by what, e.g. "node committed tx/s ÷ Ed25519 verify/s". */
  label: string;
  value: number;
  /** How to read it, one line. */
  note?: string;
}

export interface BenchResult {
  rows: BenchRow[];
  ratios?: BenchRatio[];
  /** Caveats worth printing with the figures (skipped passes, timeouts, ...). */
  notes?: string[];
}

/** What the runner hands a benchmark. Modules may ignore it (`run()` with no parameter fits). */
export interface BenchContext {
  /** Aborted when the runner's per-benchmark time limit passes: stop loading, clean up, return or throw. */
  signal: AbortSignal;
  /** Progress line, indented under the benchmark's title. */
  log(line: string): void;
}

export interface Benchmark {
  /** Short id, used by `--only <name>`. */
  name: string;
  /** One line: what is measured next to what. */
  description: string;
  /** Upper bound the runner enforces (aborts `signal` after it); default 120 s. */
  timeoutMs?: number;
  run(ctx: BenchContext): Promise<BenchResult>;
}
