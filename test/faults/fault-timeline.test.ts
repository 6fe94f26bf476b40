// The fault timeline is stored in results.db when the run finishes, fails or is interrupted.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import { readFaults } from '../../src/faults/fault-store.js';
import { FaultInjector } from '../../src/faults/injector.js';
import type { TargetConnector } from '../../src/connectors/contract.js';
import type { Fault } from '../../src/harness/scenario.js';
import { tempDir, waitFor } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('tpslab-fault-timeline-');
});
after(async () => {
  await dir.remove();
});

const FAULTS: Fault[] = [
  { kind: 'command', run: 'true', undo: 'true', atSec: 0, durationSec: 30 },
  { kind: 'command', run: 'true', atSec: 60, durationSec: 0 },
];

describe('fault timeline in results.db', () => {
  for (const status of ['failed', 'aborted'] as const) {
    it(`a run that ${status === 'failed' ? 'fails' : 'is interrupted'} keeps the faults that began, ended at the failure (run_faults was written on finish only)`, async () => {
      const db = join(dir.path, `${status}.db`);
      const lines: string[] = [];
      const injector = new FaultInjector(FAULTS, db, preciseClock);
      // Command faults need no network: the target only has to open (the injector takes its log there).
      const target = { kind: 'http', open: async () => ({ network: 'n', endpoints: [], roles: [], embedded: false }) } as unknown as TargetConnector;
      await injector.wrap(target).open((l) => lines.push(l));
      const out = injector.output;
      out.started!({ runId: 'r1', startMs: preciseClock.now(), endpoints: [] });
      await waitFor('the first fault to begin', () => injector.results[0]!.startSec !== null && lines.some((l) => l.startsWith('fault 1 at')), 10_000);
      out.second!({ second: 0, targetRate: 10, sent: 10, committed: 10, failed: 0, expired: 0, late: 0, inFlight: 0, errors: {} });
      out.failed!('r1', 'TPSLAB_E_BEACON: beacon 0 died', status);
      const stored = readFaults(db, 'r1');
      assert.equal(stored.length, 2);
      const [first, second] = stored;
      assert.equal(first!.label, 'command true');
      assert.ok(first!.startSec !== null && first!.endSec !== null && first!.endSec >= first!.startSec, 'the fault on at the failure is stored as ended then');
      assert.equal(first!.error, undefined);
      assert.equal(second!.startSec, null, 'a fault that never began is stored without times');
      assert.equal(second!.endSec, null);
      assert.match(lines.join('\n'), status === 'failed' ? /the run failed: ending 1 fault still on/ : /the run was interrupted: ending 1 fault still on/);
    });
  }
});
