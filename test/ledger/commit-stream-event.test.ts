// The commit stream's block event is written as a string (no object per transaction): it must read
// back as the same JSON the object form gave, for transfers and messages, with and without a topic.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blockEvent } from '../../src/ledger/commit-stream.js';
import type { TxEffect } from '../../src/ledger/state.js';
import { encodeAddress } from '../../src/protocol/address.js';
import { decodeBlock, encodeBlock, makeBlock } from '../../src/protocol/block.js';
import { signTx } from '../../src/protocol/signing.js';
import { senderOf, type SignedTx } from '../../src/protocol/tx.js';
import { testAccounts } from '../testkit/index.js';

const NETWORK = 'stream-event-test';

/** What the stream sent before: the object form, through JSON.stringify. */
function reference(txs: readonly SignedTx[], effects: readonly TxEffect[], topic?: string, fromSeq?: bigint): unknown {
  const entries = txs.flatMap((tx, i) => {
    const e = effects[i]!;
    if (topic !== undefined && (e.topic !== topic || (fromSeq !== undefined && e.seq! < fromSeq))) return [];
    const entry: Record<string, unknown> = { id: tx.id.toString('hex'), kind: tx.body.kind, sender: encodeAddress(senderOf(tx.body)), nonce: tx.body.nonce.toString() };
    if (e.topic !== undefined) {
      entry.topic = e.topic;
      entry.seq = e.seq!.toString();
      if (topic !== undefined && tx.body.kind === 'message') entry.payload = tx.body.payload.toString('base64');
    }
    return [entry];
  });
  return entries;
}

describe('commit stream block event', () => {
  const [a, b] = testAccounts('stream-event', 2);
  const txs = [
    signTx({ kind: 'transfer', nonce: 0n, fee: 1n, deps: [], inputs: [{ account: a!.publicKey, amount: 5n }], outputs: [{ account: b!.publicKey, amount: 4n }] }, [a!], NETWORK),
    signTx({ kind: 'message', nonce: 18446744073709551615n, fee: 0n, deps: [], from: b!.publicKey, topic: 'news.eu-1', payload: Buffer.from('"quoted" \\ ünïcode\n') }, [b!], NETWORK),
    signTx({ kind: 'create-topic', nonce: 1n, fee: 0n, deps: [], from: a!.publicKey, topic: 'other' }, [a!], NETWORK),
    signTx({ kind: 'message', nonce: 2n, fee: 0n, deps: [], from: a!.publicKey, topic: 'news.eu-1', payload: Buffer.alloc(0) }, [a!], NETWORK),
  ];
  const effects: TxEffect[] = [{}, { topic: 'news.eu-1', seq: 7n }, {}, { topic: 'news.eu-1', seq: 8n }];
  const block = decodeBlock(encodeBlock(makeBlock({ height: 12, prevHash: Buffer.alloc(32, 3), timestampMs: 1_764_000_000_123, stateHash: Buffer.alloc(32, 9), txs })));

  it('reads back as the object form: every field, in order, for transfers, messages and other kinds', () => {
    const text = blockEvent(block, effects)!;
    const expected = { type: 'block', height: 12, hash: block.hash.toString('hex'), timestampMs: 1_764_000_000_123, stateHash: Buffer.alloc(32, 9).toString('hex'), txs: reference(block.txs, effects) };
    assert.deepEqual(JSON.parse(text), expected);
    assert.equal(text, JSON.stringify(expected));
  });

  it('with a topic, names only its messages (with their payloads) from fromSeq on, and nothing for a block without any', () => {
    const all = JSON.parse(blockEvent(block, effects, 'news.eu-1')!) as { txs: unknown[] };
    assert.deepEqual(all.txs, reference(block.txs, effects, 'news.eu-1'));
    assert.equal(all.txs.length, 2);
    const later = JSON.parse(blockEvent(block, effects, 'news.eu-1', 8n)!) as { txs: { seq: string; payload: string }[] };
    assert.deepEqual(later.txs, reference(block.txs, effects, 'news.eu-1', 8n));
    assert.deepEqual(later.txs.map((t) => [t.seq, t.payload]), [['8', '']]);
    assert.equal(blockEvent(block, effects, 'elsewhere'), undefined);
  });
});
