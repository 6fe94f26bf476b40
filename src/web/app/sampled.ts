/** The sampled global TPS estimate on the report page, against every node's count. */
import type { SampledTpsInfo } from '../contract.js';
import { kv, note, panel } from './dom.js';
import { DASH, fmtInt, fmtSignedPct } from './format.js';

export function sampledPanel(s: SampledTpsInfo | undefined): HTMLElement | null {
  if (!s) return null;
  return panel('Sampled global TPS', { id: 'report-sampled' },
    kv([
      ['estimated', `${fmtInt(s.estimatedTotal)} accepted, from ${s.sampledPerInterval} of ${s.nodes} nodes every ${s.intervalMs / 1000} s (${s.intervals} intervals)`],
      ['counted on every node', fmtInt(s.fullTotal)],
      ['error of the estimate', s.error === null ? DASH : fmtSignedPct(s.error * 100)],
    ], { id: 'sampled-tps' }),
    note('Each interval, the transactions accepted at a random sample of the nodes are extrapolated to all of them (sum × N / k), as an explorer does when it cannot read every node; every node is read too, to judge the estimate.', 'note small'));
}
