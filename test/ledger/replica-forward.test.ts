/**
 * A replica's forward of a batch: every waiter is answered whatever the bookkeeping after the
 * sequencer's answer meets. A damaged transaction index threw there (ChainStore.holds asks it), in a
 * forEach: the rest of the batch was never answered, submitMany never settled, and the rejection went
 * unhandled. The sequencer here is a stand-in on 127.0.0.1 that accepts every transaction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock.js';
import { TpslabError } from '../../src/errors.js';
import { LeaderForwarder, type ForwardHost, type Pending } from '../../src/ledger/leader-forwarder.js';
import { Replica } from '../../src/ledger/replica.js';
import { chainGenesis, transfers } from './chain-fixture.js';
import { tempDir } from './tx-index-fixture.js';
import { standInSequencer } from './stand-in-sequencer.js';

test('a damaged index met after the sequencer accepted a batch left its waiters unanswered (submitMany never settled); now each is answered and the node stops with TPSLAB_E_DATA_DIR', async (t) => {
  const sequencer = await standInSequencer();
  const replica = await Replica.open(await tempDir(t, 'tpslab-replica-forward-'), chainGenesis(), { sequencerUrl: sequencer.url, fsync: false, forwardBatchMax: 3, requestTimeoutMs: 5000 });
  t.after(async () => {
    await replica.close();
    await sequencer.close();
  });
  t.mock.method(console, 'log', () => undefined); // the block feed's reconnect lines (the stand-in serves none)
  // What a damaged index does to ChainStore.holds: tells its owner (the node stops), then the lookup throws.
  const chain = (replica as unknown as { chain: { holds: () => boolean; onIndexDamaged?: (e: TpslabError) => void } }).chain;
  t.mock.method(chain, 'holds', () => {
    const err = new TpslabError('TPSLAB_E_DATA_DIR', 'the transaction index in test is damaged (block 0 does not match its checksum)');
    chain.onIndexDamaged?.(err);
    throw err;
  });
  const fatal = new Promise<TpslabError>((r) => replica.once('fatal', r));
  let timer: NodeJS.Timeout | undefined;
  const answers = await Promise.race([
    replica.submitMany(transfers(1).slice(0, 3)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('submitMany did not settle within 10 s')), 10_000))),
  ]).finally(() => clearTimeout(timer));
  assert.deepEqual(answers, [undefined, undefined, undefined], 'the sequencer took all three');
  assert.equal((await fatal).code, 'TPSLAB_E_DATA_DIR');
  assert.match(replica.unavailableReason ?? '', /transaction index .* is damaged/);
});

test('a lookup that throws while choosing what to resend to a new leader was an unhandled rejection (the process ended); now the resend is skipped with a log line', async (t) => {
  const [tx] = transfers(1);
  const pending = new Map<string, Pending>([[tx!.idKey, { atMs: 0, tx: tx!, term: 1 }]]);
  const host = {
    pending,
    track: () => undefined,
    isIndexed: () => {
      throw new TpslabError('TPSLAB_E_DATA_DIR', 'the transaction index in test is damaged');
    },
    fail: () => undefined,
    height: () => 0,
    feed: undefined,
    closed: () => false,
  } as unknown as ForwardHost;
  const logged = t.mock.method(console, 'log', () => undefined);
  const forwarder = new LeaderForwarder(['http://127.0.0.1:9'], 1000, 10, new ManualClock(), host);
  // A newer term than the one its pending transaction was accepted under: resendPending (private, started
  // without waiting when a term is learned) asks the index which of them are committed.
  const internals = forwarder as unknown as { knownTerm: number; resendPending(): Promise<void> };
  internals.knownTerm = 2;
  await internals.resendPending();
  assert.match(logged.mock.calls.map((c) => String(c.arguments[0])).join('\n'), /resend for term 2 could not check .*is damaged/);
  assert.equal(pending.size, 1, 'kept, for the next poll');
});
