// Closing the fault injector (the run's target) waits for a fault being ended on its own timer. It did
// not: a node's restart after kill -9, under way when the beacons finished, was not waited for, so the
// network was torn down under it and the restarted node, a child of `tpslab run`, kept the run alive.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import { FaultInjector } from '../../src/faults/injector.js';
import type { TargetConnector } from '../../src/connectors/contract.js';
import { tempDir, waitFor } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('tpslab-injector-close-');
});
after(async () => {
  await dir.remove();
});

describe('fault injector shutdown', () => {
  it('closing waits for a fault that its timer is ending (a restart under way when the beacons finished was not waited for)', async () => {
    const undone = join(dir.path, 'undone');
    // The undo takes a second: long after the end has begun when the run finishes and closes below.
    const injector = new FaultInjector([{ kind: 'command', run: 'true', undo: `sleep 1; touch '${undone}'`, atSec: 0, durationSec: 0.05 }], join(dir.path, 'r.db'), preciseClock);
    let innerClosed = false;
    const target = injector.wrap({
      kind: 'http',
      open: async () => ({ network: 'n', endpoints: [], roles: [], embedded: false }),
      close: async () => void (innerClosed = true),
    } as unknown as TargetConnector);
    const lines: string[] = [];
    await target.open((l) => lines.push(l));
    const out = injector.output;
    out.started!({ runId: 'r1', startMs: preciseClock.now(), endpoints: [] });
    await waitFor('the fault to begin ending', () => injector.results[0]!.endSec !== null, 10_000);
    assert.equal(existsSync(undone), false, 'the undo is still running');
    out.finishing!();
    await target.close();
    assert.ok(existsSync(undone), 'close() resolved only after the fault had been ended');
    assert.ok(innerClosed, 'and then closed the target');
    assert.match(lines.join('\n'), /fault 1 ended at/);
  });
});
