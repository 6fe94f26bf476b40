/**
 * The live progress line of `tpslab run` on stderr: on a terminal, one line rewritten in place;
 * otherwise (CI logs, pipes) one line per update, i.e. every second, as docs/cli.md says.
 */
export interface ProgressOutput {
  write(text: string): void;
  isTTY?: boolean;
}

export function progressWriter(out: ProgressOutput, opts: { quiet?: boolean } = {}): (line: string) => void {
  return (line) => {
    if (opts.quiet) return;
    if (out.isTTY) out.write(`\r\x1b[K${line}`);
    else out.write(`${line}\n`);
  };
}
