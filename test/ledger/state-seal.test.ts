// The state hash after the seal's rewrite (accounts sorted by counting on the first byte, u64 fields
// written as two 32-bit halves): the same bytes as before, checked against an independent rendering
// of docs/network.md's definition and against a hash the previous implementation gave.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseGenesis } from '../../src/ledger/genesis.js';
import { LedgerState, sortedKeys } from '../../src/ledger/state.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../../src/protocol/signing.js';

const NET = 'state-seal-test';
const BIG = (1n << 58n) + 12_345n; // above 2^53: the BigInt path of u64 (20 of them stay under 2^64 in all)

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}

/** SHA-256(previous state hash ‖ u64 height ‖ every written account, sorted by key: key ‖ u64 balance ‖ u64 nonce). */
function referenceSeal(prev: Buffer, height: number, state: LedgerState, written: readonly KeyPair[]): Buffer {
  const keys = [...new Set(written.map((k) => k.publicKey.toString('latin1')))].sort();
  const parts = [prev, u64(BigInt(height))];
  for (const k of keys) {
    const a = state.accountByKey(k)!;
    parts.push(Buffer.from(k, 'latin1'), u64(a.balance), u64(a.nonce));
  }
  return createHash('sha256').update(Buffer.concat(parts)).digest();
}

describe('LedgerState.seal', () => {
  it('hashes the written accounts in key order, as the definition says and as the previous implementation did', () => {
    const senders = Array.from({ length: 40 }, (_, i) => keyPairFromLabel(`seal-sender-${i}`));
    const receivers = Array.from({ length: 40 }, (_, i) => keyPairFromLabel(`seal-receiver-${i}`));
    const state = new LedgerState(
      parseGenesis({ network: NET, params: { minFee: '2' }, accounts: senders.map((k, i) => ({ address: k.address, balance: String(i % 2 ? BIG : 1_000_000n) })) }),
    );
    let prev = state.stateHash;
    for (let height = 1; height <= 3; height++) {
      for (let i = 0; i < senders.length; i++) {
        state.execute(signTx({ kind: 'transfer', nonce: BigInt(height - 1), fee: 2n, deps: [], inputs: [{ account: senders[i]!.publicKey, amount: 7n }], outputs: [{ account: receivers[i]!.publicKey, amount: 7n }] }, [senders[i]!], NET));
      }
      const expected = referenceSeal(prev, height, state, [...senders, ...receivers]);
      prev = state.seal(height);
      assert.equal(prev.toString('hex'), expected.toString('hex'), `block ${height}`);
    }
    // What main at 42859a2 (sort() and writeBigUInt64BE) computed for these three blocks.
    assert.equal(prev.toString('hex'), '8ac7aef3bc1901814ecf97edf50fbcd8a2d5f70bb4cbc37fb2d3f37f853e8808');
  });
});

describe('sortedKeys', () => {
  const same = (keys: string[]): void => assert.deepEqual(sortedKeys(new Set(keys)), [...new Set(keys)].sort());

  it('orders random 32-byte keys as sort() does, from none to a full block', () => {
    for (const n of [0, 1, 2, 17, 800, 8000]) same(Array.from({ length: n }, () => randomBytes(32).toString('latin1')));
  });

  it('orders keys sharing their first bytes (buckets of more than 16 are sorted whole)', () => {
    same(Array.from({ length: 300 }, (_, i) => `\u0001\u0002${String.fromCharCode(i % 4)}${randomBytes(29).toString('latin1')}`));
    same(Array.from({ length: 12 }, (_, i) => `\u00ff${String.fromCharCode(255 - i)}`));
  });

  it('falls back to sort() for an empty key or one that is not latin1', () => {
    same(['b', '', 'a']);
    same(['\u0100x', 'z', '\u00ffa']);
  });
});
