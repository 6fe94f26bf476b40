// Transfer execution in LedgerState, after its allocation-free rewrite (no Set, tuples or effect
// object per transaction): each input is debited once, input 0 also pays the fee, a refusal changes
// nothing, and the shared empty effect cannot be written through.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TpslabError } from '../../src/errors.js';
import { parseGenesis } from '../../src/ledger/genesis.js';
import { LedgerState } from '../../src/ledger/state.js';
import { decodeBlock, encodeBlock, makeBlock } from '../../src/protocol/block.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../../src/protocol/signing.js';
import type { Entry, SignedTx } from '../../src/protocol/tx.js';

const NET = 'state-transfer-test';
const alice = keyPairFromLabel('st-alice');
const bob = keyPairFromLabel('st-bob');
const carol = keyPairFromLabel('st-carol');

function fresh(): LedgerState {
  return new LedgerState(
    parseGenesis({
      network: NET,
      params: { minFee: '2' },
      accounts: [
        { address: alice.address, balance: '100' },
        { address: bob.address, balance: '50' },
      ],
    }),
  );
}

const entry = (k: KeyPair, amount: bigint): Entry => ({ account: k.publicKey, amount });

function transfer(signers: KeyPair[], inputs: Entry[], outputs: Entry[], nonce = 0n, fee = 2n): SignedTx {
  return signTx({ kind: 'transfer', nonce, fee, deps: [], inputs, outputs }, signers, NET);
}

const balance = (s: LedgerState, k: KeyPair): bigint | undefined => s.getAccount(k.publicKey)?.balance;

function refusedWith(code: string): (err: unknown) => boolean {
  return (err) => err instanceof TpslabError && err.code === code;
}

describe('LedgerState transfers', () => {
  it('debits every input once, charges the fee to input 0 only, and moves the sender nonce', () => {
    const s = fresh();
    s.execute(transfer([alice, bob], [entry(alice, 30n), entry(bob, 20n)], [entry(carol, 50n)]));
    assert.equal(balance(s, alice), 68n); // 100 - 30 - fee 2
    assert.equal(balance(s, bob), 30n);
    assert.equal(balance(s, carol), 50n);
    assert.equal(s.getAccount(alice.publicKey)!.nonce, 1n);
    assert.equal(s.getAccount(bob.publicKey)!.nonce, 0n);
    assert.equal(s.feesBurned, 2n);
  });

  it('a second input short of funds changes nothing, the sender included', () => {
    const s = fresh();
    assert.throws(() => s.execute(transfer([alice, bob], [entry(alice, 30n), entry(bob, 51n)], [entry(carol, 81n)])), refusedWith('TPSLAB_E_INSUFFICIENT_FUNDS'));
    assert.equal(balance(s, alice), 100n);
    assert.equal(balance(s, bob), 50n);
    assert.equal(balance(s, carol), undefined);
    assert.equal(s.getAccount(alice.publicKey)!.nonce, 0n);
  });

  it('the sender must cover amount + fee', () => {
    const s = fresh();
    assert.throws(() => s.execute(transfer([alice], [entry(alice, 99n)], [entry(bob, 99n)])), refusedWith('TPSLAB_E_INSUFFICIENT_FUNDS'));
    assert.equal(balance(s, alice), 100n);
    s.execute(transfer([alice], [entry(alice, 98n)], [entry(bob, 98n)]));
    assert.equal(balance(s, alice), 0n);
    assert.equal(balance(s, bob), 148n);
  });

  it('refuses an account named twice in the inputs, and a zero amount', () => {
    const s = fresh();
    assert.throws(() => s.execute(transfer([alice, alice], [entry(alice, 1n), entry(alice, 1n)], [entry(bob, 2n)])), refusedWith('TPSLAB_E_INVALID_TX'));
    assert.throws(() => s.execute(transfer([alice], [entry(alice, 0n)], [entry(bob, 0n)])), refusedWith('TPSLAB_E_INVALID_TX'));
    assert.equal(balance(s, alice), 100n);
  });

  it('every non-message transaction shares one frozen empty effect', () => {
    const s = fresh();
    const a = s.execute(transfer([alice], [entry(alice, 1n)], [entry(bob, 1n)], 0n));
    const b = s.execute(transfer([alice], [entry(alice, 1n)], [entry(bob, 1n)], 1n));
    assert.deepEqual(a, {});
    assert.ok(Object.isFrozen(a));
    assert.equal(a, b);
  });

  it('the state hash after a block matches a second state that applied the same transactions', () => {
    const txs = [transfer([alice, bob], [entry(alice, 30n), entry(bob, 20n)], [entry(carol, 50n)]), transfer([bob], [entry(bob, 5n)], [entry(alice, 5n)], 0n)];
    const [x, y] = [fresh(), fresh()];
    for (const tx of txs) x.execute(tx);
    for (const tx of txs) y.execute(tx);
    assert.ok(x.seal(1).equals(y.seal(1)));
    assert.equal(balance(x, bob), 23n); // 50 - 20 - 5 - fee 2
  });
  it('a topic created from an owned block keeps a copy of its owner, not the whole block (regression: a view pinned every block with a create-topic)', () => {
    const s = fresh();
    const txs = [signTx({ kind: 'create-topic', nonce: 0n, fee: 2n, deps: [], from: alice.publicKey, topic: 'owned' }, [alice], NET)];
    for (let n = 0n; n < 60n; n++) txs.push(transfer([bob], [entry(bob, 1n)], [entry(carol, 1n)], n, 0n));
    const bytes = encodeBlock(makeBlock({ height: 1, prevHash: Buffer.alloc(32), timestampMs: 0, stateHash: Buffer.alloc(32), txs }));
    const block = decodeBlock(Buffer.from(bytes), true);
    s.execute(block.txs[0]!);
    const owner = s.getTopic('owned')!.owner;
    assert.deepEqual(owner, alice.publicKey);
    assert.ok(owner.buffer.byteLength < bytes.length, `the owner holds ${owner.buffer.byteLength} bytes; the block is ${bytes.length}`);
  });
});
