/** The final table `tpslab run` prints. */
import type { LatencySummary } from './histogram.js';
import type { RunResult } from './overseer.js';
import { blockRange } from '../web/contract.js';

const n = (v: number): string => Math.round(v).toLocaleString('en-US');
const signed = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export function formatSummary(r: RunResult): string {
  const s = r.summary;
  const lines: string[] = [];
  lines.push(`run ${r.runId}: ${r.status.toUpperCase()}`);
  if (r.status === 'aborted') lines.push('  (interrupted: the figures cover the run up to the interruption; reconciliation skipped)');
  lines.push('');
  lines.push(`  sent ${n(s.sent)}   committed ${n(s.committed)}   failed ${n(s.failed)}   lost ${n(s.lost)}   late ${n(s.late ?? 0)}   pending ${n(s.pending)}   retries ${n(s.retries)}`);
  lines.push(`  committed TPS: average ${s.tps.avg.toFixed(1)}, peak ${n(s.tps.peak)} (over ${s.tps.windowSec ?? s.durationSec} s)`);
  lines.push('');
  const row = (name: string, l: LatencySummary): string =>
    `  ${name.padEnd(24)}${[l.p50Ms, l.p90Ms, l.p99Ms, l.p999Ms, l.maxMs].map((v) => ms(v).padStart(9)).join('')}`;
  lines.push(`  ${'latency (ms)'.padEnd(24)}${['p50', 'p90', 'p99', 'p99.9', 'max'].map((h) => h.padStart(9)).join('')}`);
  lines.push(row('from intended send', s.latency));
  lines.push(row('from actual send', s.latencyUncorrected));
  lines.push(row('schedule lag', s.scheduleLag));
  lines.push('  (from intended send = corrected for coordinated omission; from actual send = what a closed-loop tool would report)');
  const errs = Object.entries(s.errors).filter(([, c]) => c > 0);
  if (errs.length) {
    lines.push('');
    lines.push(`  errors: ${errs.map(([code, c]) => `${code} ×${c}`).join(', ')}`);
  }
  const rec = s.reconciliation;
  if (rec) {
    lines.push('');
    const ok = rec.missing === 0 && rec.unexpected === 0;
    lines.push(
      `  reconciliation (blocks ${blockRange(rec)}): beacons saw ${n(rec.beaconCommitted)} committed, the network committed ${n(rec.networkCommitted)} — ${ok ? 'they match' : `MISMATCH: ${rec.missing} reported but not on the ledger, ${rec.unexpected} on the ledger but not seen committed`}`,
    );
    if (rec.missingIds.length) lines.push(`    missing e.g. ${rec.missingIds.slice(0, 3).join(', ')}`);
    if (rec.unexpectedIds.length) lines.push(`    unexpected e.g. ${rec.unexpectedIds.slice(0, 3).join(', ')}`);
  }
  for (const note of s.notes ?? []) lines.push(`  ${note}`);
  if (r.clocks?.length) {
    lines.push('');
    lines.push(`  ${'beacon'.padEnd(24)}${'clock offset (ms)'.padStart(20)}${'first send after start (ms)'.padStart(30)}`);
    for (const c of r.clocks) {
      const off = c.clockOffsetMs === undefined ? '–' : `${signed(c.clockOffsetMs)} ± ${(c.clockUncertaintyMs ?? 0).toFixed(2)}`;
      lines.push(`  ${`${c.beacon} ${c.name ?? ''}`.padEnd(24)}${off.padStart(20)}${(c.firstSendAfterStartMs === undefined ? '–' : signed(c.firstSendAfterStartMs)).padStart(30)}`);
    }
    lines.push('  (offset: overseer clock minus the beacon\'s; first send measured on the beacon\'s clock, corrected by its offset)');
  }
  if (!rec && s.connector && !s.connector.reconciled) {
    lines.push('');
    lines.push(`  not reconciled: the ${s.connector.kind} connector cannot ask the network what it committed`);
    for (const l of s.connector.limits) lines.push(`    - ${l}`);
  }
  if (r.thresholds.length) {
    lines.push('');
    lines.push('  thresholds:');
    for (const t of r.thresholds) lines.push(`    ${t.passed ? 'pass' : 'FAIL'}  ${t.threshold}  (actual ${t.actualText})`);
  }
  lines.push('');
  lines.push(`  stored in ${r.dbPath} as run ${r.runId}`);
  return lines.join('\n');
}
