// A compressed soak: RATE_PER_SEC for DURATION_SEC against a 3-node network, 2 beacons, every
// process's RSS sampled each second. Memory must follow what is in flight, not the run: between
// a window early in the load and the end of it, no process grows by more than its stated bound.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { soak, stopNetwork } from '../../bench/lib/soak.js';
import { between, slopeBytesPerMin } from '../testkit/proc-rss.js';
import { tempDir } from '../testkit/index.js';

const RATE_PER_SEC = 1_000;
const DURATION_SEC = 90;
const MB = 1024 * 1024;
/**
 * Growth allowed from the early window (25–40% of the load) to the late one (70–100%), per
 * process. This guards against gross growth; the deterministic bound on a beacon's ledger is
 * test/harness/beacon-bounded.test.ts, and `bench --only soak` measures slopes over longer runs.
 * Measured on a shared 2-core machine (one run, 1,000 tx/s for 90 s): beacons grew 27–40 MB
 * (V8's young generation widens up to 3 × 16 MB under a high allocation rate, and the
 * committed-id list grows ≈ 100 bytes a transaction until per-range digests replace it), the
 * nodes ≈ 80 MB (a finding for the node half of issue 15: see bench `soak`).
 */
const BOUND_BYTES: Record<string, number> = { beacon: 64 * MB, overseer: 64 * MB, node: 160 * MB, replica: 160 * MB, sequencer: 160 * MB, tracker: 16 * MB };

test(`soak: ${RATE_PER_SEC} tx/s for ${DURATION_SEC} s, every process's RSS stays within its bound`, { timeout: 600_000 }, async (t) => {
  const dir = await tempDir('tpslab-soak-');
  const r = await soak({ dir: dir.path, ratePerSec: RATE_PER_SEC, durationSec: DURATION_SEC, beacons: 2, nodes: 3, sampleEveryMs: 1000, log: (l) => t.diagnostic(l) });
  try {
    assert.equal(r.summary.sent, RATE_PER_SEC * DURATION_SEC, 'every planned transaction was sent');
    assert.ok(r.summary.committed > 0);
    const span = r.loadToMs - r.loadFromMs;
    let beacons = 0;
    const over: string[] = [];
    for (const [name, samples] of r.series) {
      const kind = name.split(' ')[0]!;
      const early = between(samples, r.loadFromMs + 0.25 * span, r.loadFromMs + 0.4 * span);
      const late = between(samples, r.loadFromMs + 0.7 * span, r.loadToMs);
      if (early.length === 0 || late.length === 0) continue; // a process that did not live through the load
      if (kind === 'beacon') beacons++;
      const growth = Math.max(...late.map((s) => s.rssBytes)) - Math.max(...early.map((s) => s.rssBytes));
      const bound = BOUND_BYTES[kind] ?? 160 * MB;
      t.diagnostic(`${name}: early max ${(Math.max(...early.map((s) => s.rssBytes)) / MB).toFixed(0)} MB, growth ${(growth / MB).toFixed(1)} MB (bound ${bound / MB} MB), slope ${(slopeBytesPerMin(between(samples, r.loadFromMs + 0.25 * span, r.loadToMs)) / MB).toFixed(1)} MB/min`);
      if (growth > bound) over.push(`${name} grew ${(growth / MB).toFixed(1)} MB during the load, more than ${bound / MB} MB`);
    }
    assert.deepEqual(over, []);
    assert.equal(beacons, 2, 'both beacons were sampled through the load');
  } finally {
    await stopNetwork(`${dir.path}/net`, r.net);
    await dir.remove();
  }
});
