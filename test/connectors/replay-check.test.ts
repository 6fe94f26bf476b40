// The replay check's figures on known blocks, to the exact value (docs/replay.md: order, waits, the tail), and the
// structures that keep its memory bounded: seen ids past the in-memory window found in the index on disk, senders by
// their 8-byte prefix.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ReplayChecker, replayNotes, Tally } from '../../src/connectors/tpslab/replay-check.js';
import { SeenIds, SenderSet } from '../../src/connectors/tpslab/replay-seen.js';
import type { DatasetHeader } from '../../src/dataset/format.js';
import type { Block } from '../../src/protocol/block.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../../src/protocol/signing.js';
import type { SignedTx } from '../../src/protocol/tx.js';
import { tempDir } from '../testkit/index.js';

const NET = 'replay-check-test';
const [A, B, C] = ['a', 'b', 'c'].map((l) => keyPairFromLabel(`replay-check-${l}`)) as [KeyPair, KeyPair, KeyPair];

function tx(from: KeyPair, nonce: number, deps: SignedTx[], extraDeps: Buffer[] = []): SignedTx {
  return signTx({ kind: 'transfer', nonce: BigInt(nonce), fee: 0n, deps: [...deps.map((d) => d.id), ...extraDeps], inputs: [{ account: from.publicKey, amount: 1n }], outputs: [{ account: C.publicKey, amount: 1n }] }, [from], NET);
}

const block = (height: number, timestampMs: number, txs: SignedTx[]): Block => ({ height, timestampMs, txs, prevHash: Buffer.alloc(32), stateHash: Buffer.alloc(32), hash: Buffer.alloc(32) });

describe('replay check', () => {
  test('order, dependencies before the run, waits and the tail of known blocks, exactly', async () => {
    const senders = new SenderSet();
    senders.add(A.publicKey);
    senders.add(B.publicKey);
    senders.compact();
    const a1 = tx(A, 0, []);
    const c1 = tx(C, 0, [a1]); // not a dataset sender: not counted, its dep not checked
    const b1 = tx(B, 0, [a1]);
    const b2 = tx(B, 1, [b1]); // its parent earlier in the same block
    const b3 = tx(B, 2, [a1, b2]);
    const outside = randomBytes(32); // committed before the blocks read, or never
    const a2 = tx(A, 1, [b3], [outside]); // b3 comes a block later: out of order
    const visited: [string, number][] = [];
    const check = new ReplayChecker({ fromHeight: 10, senders }, (id, h) => void visited.push([id, h]));
    check.onBlock(block(11, 1_000, [a1, c1]), 11);
    check.onBlock(block(12, 1_500, [b1, b2]), 12);
    check.onBlock(block(13, 4_000, [a2]), 13);
    check.onBlock(block(14, 4_100, [b3]), 14);
    const r = await check.finish();
    assert.equal(r.committed, 5);
    assert.deepEqual(visited, [[a1, 11], [b1, 12], [b2, 12], [a2, 13], [b3, 14]].map(([t, h]) => [(t as SignedTx).id.toString('hex'), h]));
    assert.equal(r.deps, 6, 'b1: 1, b2: 1, a2: 2, b3: 2');
    assert.equal(r.depsOutOfOrder, 1, "a2 names b3, a block before b3's");
    assert.equal(r.depsBefore, 1, 'the id never seen');
    // Waits: b1 1500 − 1000, b2 0 (same block), b3 4100 − max(1000, 1500); a2's only seen dep is none.
    assert.equal(r.waitsMs.n, 3);
    const header = { stats: { records: 7 } } as DatasetHeader;
    const notes = replayNotes(r, header);
    assert.deepEqual(notes, [
      'replay: 5 of the dataset\'s 7 transactions are in the blocks',
      'replay dependencies: 6 checked, 1 NOT committed before their dependent (1 committed before the run\'s blocks)',
      "replay dependency waits (a dependent's commit after its last dependency's), 3 transactions: p50 500 ms, p99 2600 ms, max 2600 ms",
      // Block times 1000, 1500, 1500, 4000, 4100: the edge is the 5th (floor(0.95 × 5) = 4), 4100.
      'replay tail: the first 95% committed in 3.1 s, the last 5% (1 transactions) took 0.0 s more (block times)',
    ]);
  });

  test('a tally answers ranks as the sorted list of every value would', () => {
    const t = new Tally();
    const all: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const v = (i * 7919) % 37;
      const k = 1 + (i % 3);
      t.add(v, k);
      for (let j = 0; j < k; j++) all.push(v);
    }
    all.sort((a, b) => a - b);
    assert.equal(t.n, all.length);
    for (const rank of [0, 1, 500, 1000, all.length - 2, all.length - 1]) assert.equal(t.at(rank), all[rank], `rank ${rank}`);
    for (const p of [0.5, 0.95, 0.99]) assert.equal(t.pct(p), all[Math.floor(p * all.length)]);
  });

  test('seen ids past the in-memory window are found in the index on disk, and its scratch directory goes at close', async () => {
    const tmp = await tempDir('tpslab-replay-seen-');
    try {
      const seen = new SeenIds(1_000, tmp.path);
      const ids: string[] = [];
      for (let h = 1; h <= 200; h++) {
        const keys = Array.from({ length: 100 }, () => randomBytes(32).toString('latin1'));
        ids.push(...keys);
        seen.add(h, keys);
      }
      assert.equal(seen.size, 20_000);
      const dirs = readdirSync(tmp.path).filter((f) => f.startsWith('tpslab-replay-check-'));
      assert.equal(dirs.length, 1, 'one scratch index');
      assert.ok(existsSync(join(tmp.path, dirs[0]!, 'owner.json')), 'owned, so a later process removes it if this one is killed');
      for (const i of [0, 99, 100, 8_191, 8_192, 12_345, 18_999, 19_999]) assert.equal(seen.heightOf(ids[i]!), Math.floor(i / 100) + 1, `id ${i}`);
      assert.equal(seen.heightOf(randomBytes(32).toString('latin1')), undefined);
      await seen.close();
      assert.deepEqual(readdirSync(tmp.path), []);
    } finally {
      await tmp.remove();
    }
  });

  test('senders are known by their first 8 bytes, repeats and growth included', () => {
    const set = new SenderSet();
    const keys = Array.from({ length: 5_000 }, () => randomBytes(32));
    for (let round = 0; round < 3; round++) for (const k of keys) set.add(k);
    set.compact();
    assert.equal(set.size, 5_000);
    for (const k of keys) assert.ok(set.has(k));
    for (let i = 0; i < 1_000; i++) assert.equal(set.has(randomBytes(32)), false);
  });
});
