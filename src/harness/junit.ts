/**
 * JUnit XML of a run's threshold verdicts, for CI systems that show test reports: one test suite
 * per run, one test case per threshold (a failure when breached), plus a `run` case that errors
 * when the run failed or was aborted. Pure: returns the XML text.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TpslabError } from '../errors.js';
import type { ReportData, ThresholdVerdict } from '../web/contract.js';

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
    // Characters XML 1.0 cannot hold at all.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '');

export interface JunitRun {
  id: string;
  name: string;
  status: string;
  error?: string;
  durationSec?: number;
  thresholds: readonly ThresholdVerdict[];
}

export function junitXml(run: JunitRun): string {
  const cases: string[] = [];
  const runOk = run.status === 'passed' || run.status === 'breached';
  cases.push(runOk
    ? `    <testcase classname="tpslab.run" name="run ${esc(run.id)}"/>`
    : `    <testcase classname="tpslab.run" name="run ${esc(run.id)}">\n      <error message="${esc(`run ${run.status}${run.error ? `: ${run.error}` : ''}`)}" type="${esc(run.status)}"/>\n    </testcase>`);
  for (const t of run.thresholds) {
    const actual = t.actualText ?? (t.actual === undefined || t.actual === null ? 'n/a' : String(t.actual));
    cases.push(t.passed
      ? `    <testcase classname="tpslab.thresholds" name="${esc(t.threshold)}"/>`
      : `    <testcase classname="tpslab.thresholds" name="${esc(t.threshold)}">\n      <failure message="${esc(`${t.threshold} breached (actual ${actual})`)}" type="threshold"/>\n    </testcase>`);
  }
  const failures = run.thresholds.filter((t) => !t.passed).length;
  const errors = runOk ? 0 : 1;
  const time = run.durationSec === undefined ? '' : ` time="${run.durationSec}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="tpslab" tests="${cases.length}" failures="${failures}" errors="${errors}">`,
    `  <testsuite name="${esc(`tpslab ${run.name} (${run.id})`)}" tests="${cases.length}" failures="${failures}" errors="${errors}"${time}>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** Writes the JUnit XML (creating parent directories); a file that cannot be written is TPSLAB_E_USAGE naming it. */
export async function writeJunit(run: JunitRun, file: string): Promise<string> {
  const abs = path.resolve(file);
  try {
    await mkdir(path.dirname(abs), { recursive: true });
    await writeFile(abs, junitXml(run), 'utf8');
  } catch (err) {
    throw new TpslabError('TPSLAB_E_USAGE', `cannot write the JUnit XML to ${abs}: ${(err as Error).message}; choose another file (--junit)`, { cause: err });
  }
  return abs;
}

/** The JUnit view of stored report data. */
export function junitRunOf(data: ReportData): JunitRun {
  return {
    id: data.run.id, name: data.run.name, status: data.run.status, thresholds: data.thresholds,
    ...(data.run.error !== undefined ? { error: data.run.error } : {}),
    ...(data.summary ? { durationSec: data.summary.durationSec } : {}),
  };
}
