// Mempool and state rules, driven by a manual clock: per-sender FIFO, deps, expiry, capacity.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { TpslabError } from '../../src/errors.js';
import { parseGenesis } from '../../src/ledger/genesis.js';
import { DEFAULT_MEMPOOL_OPTIONS, Mempool, type MempoolOptions } from '../../src/ledger/mempool.js';
import { LedgerState } from '../../src/ledger/state.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../../src/protocol/signing.js';
import type { SignedTx } from '../../src/protocol/tx.js';

const NET = 'mempool-test';
const alice = keyPairFromLabel('mp-alice');
const bob = keyPairFromLabel('mp-bob');
const carol = keyPairFromLabel('mp-carol');

function setup(opts: Partial<MempoolOptions> = {}) {
  const genesis = parseGenesis({
    network: NET,
    accounts: [
      { address: alice.address, balance: '1000' },
      { address: bob.address, balance: '1000' },
    ],
  });
  const clock = new ManualClock();
  const state = new LedgerState(genesis);
  const included = new Set<string>();
  const pool = new Mempool({ ...DEFAULT_MEMPOOL_OPTIONS, ...opts }, clock, state, (k) => included.has(k));
  const build = (max = 1000) => {
    const r = pool.build(max, 1 << 30);
    for (const tx of r.included) included.add(tx.id.toString('latin1'));
    return r;
  };
  return { pool, state, clock, build };
}

function pay(from: KeyPair, nonce: number, to: KeyPair, amount = 1n, deps: SignedTx[] = []): SignedTx {
  return signTx(
    { kind: 'transfer', nonce: BigInt(nonce), fee: 0n, deps: deps.map((d) => d.id), inputs: [{ account: from.publicKey, amount }], outputs: [{ account: to.publicKey, amount }] },
    [from],
    NET,
  );
}

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TpslabError, String(err));
    return err.code;
  }
  assert.fail('expected a coded error');
};

describe('mempool', () => {
  it('releases one sender in nonce order whatever the arrival order', () => {
    const { pool, build, state } = setup();
    const txs = [0, 1, 2, 3].map((n) => pay(alice, n, bob));
    for (const t of [txs[3]!, txs[1]!, txs[2]!]) pool.admit(t);
    assert.equal(build().included.length, 0, 'nothing runs while nonce 0 is missing');
    pool.admit(txs[0]!);
    const r = build();
    assert.deepEqual(r.included.map((t) => t.body.nonce), [0n, 1n, 2n, 3n]);
    assert.equal(state.getAccount(alice.publicKey)!.nonce, 4n);
  });

  it('refuses used, pending, too-far and duplicate nonces without keeping them', () => {
    const { pool, build } = setup({ maxFutureNonces: 4 });
    const t0 = pay(alice, 0, bob);
    pool.admit(t0);
    assert.equal(code(() => pool.admit(t0)), 'TPSLAB_E_DUPLICATE');
    assert.equal(code(() => pool.admit(pay(alice, 0, bob, 2n))), 'TPSLAB_E_NONCE_PENDING');
    assert.equal(code(() => pool.admit(pay(alice, 5, bob))), 'TPSLAB_E_NONCE_TOO_HIGH');
    build();
    assert.equal(code(() => pool.admit(t0)), 'TPSLAB_E_DUPLICATE');
    assert.equal(code(() => pool.admit(pay(alice, 0, bob, 3n))), 'TPSLAB_E_NONCE_TOO_LOW');
    assert.equal(code(() => pool.admit(pay(carol, 0, bob))), 'TPSLAB_E_UNKNOWN_ACCOUNT');
    assert.equal(code(() => pool.admit(pay(alice, 1, bob, 5000n))), 'TPSLAB_E_INSUFFICIENT_FUNDS');
    assert.equal(pool.size, 0);
  });

  it('holds a transaction until its dependency is committed, even from an account it creates', () => {
    const { pool, build, state } = setup();
    const fundCarol = pay(alice, 0, carol, 10n);
    const carolPays = pay(carol, 0, bob, 10n, [fundCarol]);
    pool.admit(carolPays); // carol does not exist yet: allowed because it names a dependency
    assert.equal(build().included.length, 0);
    pool.admit(fundCarol);
    const r = build();
    assert.deepEqual(r.included.map((t) => t.id), [fundCarol.id, carolPays.id], 'dependency first, in the same block');
    assert.equal(state.getAccount(bob.publicKey)!.balance, 1010n);
  });

  it('expires a nonce gap and a missing dependency with distinct codes', () => {
    const { pool, build, clock } = setup({ pendingTtlMs: 1000 });
    pool.admit(pay(alice, 1, bob)); // gap at 0
    pool.admit(pay(bob, 0, alice, 1n, [pay(carol, 0, bob)])); // dependency that never comes
    build();
    clock.advance(999);
    assert.equal(pool.expire().length, 0);
    clock.advance(2);
    const dropped = pool.expire().map((d) => d.code).sort();
    assert.deepEqual(dropped, ['TPSLAB_E_DEPS_EXPIRED', 'TPSLAB_E_NONCE_GAP_EXPIRED']);
    assert.equal(pool.size, 0);
  });

  it('drops the later nonces of a sender whose transaction fails at execution', () => {
    const { pool, build } = setup();
    pool.admit(pay(alice, 0, bob, 600n));
    pool.admit(pay(alice, 1, bob, 600n)); // admitted (funds looked fine against state), fails at execution
    pool.admit(pay(alice, 2, bob, 1n));
    const r = build();
    assert.equal(r.included.length, 1);
    assert.deepEqual(r.failed.map((f) => f.code), ['TPSLAB_E_INSUFFICIENT_FUNDS', 'TPSLAB_E_PREDECESSOR_FAILED']);
    assert.equal(pool.size, 0);
  });

  it('answers MEMPOOL_FULL at capacity and accepts again once drained', () => {
    const { pool, build } = setup({ capacity: 3 });
    for (let n = 0; n < 3; n++) pool.admit(pay(alice, n, bob));
    assert.equal(code(() => pool.admit(pay(bob, 0, alice))), 'TPSLAB_E_MEMPOOL_FULL');
    build();
    pool.admit(pay(bob, 0, alice));
    assert.equal(pool.size, 1);
  });

  it('a full mempool kept successors of refused nonces until they expired (60 s); now they are dropped at once and later ones refused until the nonce is resent', () => {
    const { pool, build } = setup({ capacity: 3 });
    const bobs = [0, 1, 2, 3].map((n) => pay(bob, n, alice));
    pool.admit(bobs[1]!);
    pool.admit(bobs[2]!); // both wait for bob's nonce 0
    pool.admit(pay(alice, 0, bob)); // full
    assert.equal(code(() => pool.admit(bobs[0]!)), 'TPSLAB_E_MEMPOOL_FULL');
    const dropped = pool.takeDroppedOnAdmit();
    assert.deepEqual(dropped.map((d) => [d.pending.tx.body.nonce, d.code]), [[1n, 'TPSLAB_E_PREDECESSOR_REFUSED'], [2n, 'TPSLAB_E_PREDECESSOR_REFUSED']]);
    assert.match(dropped[0]!.message, /nonce 0 .*was refused \(TPSLAB_E_MEMPOOL_FULL\), so nonce 1 was dropped; send it again after nonce 0/);
    assert.equal(pool.size, 1, 'only the runnable transaction is left');
    assert.deepEqual(pool.takeDroppedOnAdmit(), []);
    // Behind the hole, later nonces are refused (retryably) instead of filling the mempool again.
    assert.equal(code(() => pool.admit(bobs[3]!)), 'TPSLAB_E_MEMPOOL_FULL');
    assert.equal(pool.size, 1);
    // Resending the refused nonce closes the hole: the sender runs again.
    pool.admit(bobs[0]!);
    pool.admit(bobs[1]!);
    assert.equal(build().included.length, 3);
    // A refusal for another reason (not capacity) refuses the successors for good.
    assert.equal(code(() => pool.admit(pay(bob, 2, alice, 5000n))), 'TPSLAB_E_INSUFFICIENT_FUNDS');
    assert.equal(code(() => pool.admit(bobs[3]!)), 'TPSLAB_E_PREDECESSOR_FAILED');
    pool.admit(bobs[2]!);
    pool.admit(bobs[3]!);
    assert.equal(pool.size, 2);
  });

  it('interleaves senders fairly and respects the block size', () => {
    const { pool, build } = setup();
    for (let n = 0; n < 5; n++) {
      pool.admit(pay(alice, n, bob));
      pool.admit(pay(bob, n, alice));
    }
    const first = build(4).included;
    assert.equal(first.length, 4);
    assert.equal(new Set(first.map((t) => t.body.kind === 'transfer' && t.body.inputs[0]!.account.toString('hex'))).size, 2, 'both senders progress');
    assert.equal(build().included.length, 6);
  });

  it('a dependency lookup that threw mid-build (a damaged index) left the state with transactions in no block; now the block ends there and holds what ran', () => {
    const genesis = parseGenesis({ network: NET, accounts: [{ address: alice.address, balance: '1000' }, { address: bob.address, balance: '1000' }] });
    const state = new LedgerState(genesis);
    const committed = pay(carol, 0, alice); // stands for a transaction of an earlier block
    const damaged = new TpslabError('TPSLAB_E_DATA_DIR', 'the transaction index is damaged');
    let broken = false;
    const pool = new Mempool({ ...DEFAULT_MEMPOOL_OPTIONS }, new ManualClock(), state, (k) => {
      if (broken) throw damaged;
      return k === committed.idKey;
    });
    const first = pay(bob, 0, alice);
    const dependent = pay(alice, 0, bob, 1n, [committed]);
    pool.admit(first);
    pool.admit(dependent); // its dependency is committed at admission: ready, and looked up again when built
    broken = true;
    const r = pool.build(100, 1 << 30);
    assert.equal(r.lookupError, damaged);
    assert.deepEqual(r.included.map((t) => t.id), [first.id], 'what ran before the lookup, for the sequencer to seal');
    assert.equal(r.effects.length, 1);
    assert.equal(state.getAccount(bob.publicKey)!.nonce, 1n, 'the state ran exactly the included transactions');
    assert.equal(state.getAccount(alice.publicKey)!.nonce, 0n);
    assert.ok(pool.has(dependent.idKey), 'the transaction whose lookup threw is still pending');
    assert.equal(pool.readyCount, 1, 'its sender still ready');
    broken = false;
    const next = pool.build(100, 1 << 30);
    assert.deepEqual(next.included.map((t) => t.id), [dependent.id], 'the next block takes it');
    assert.equal(next.lookupError, undefined);
  });
});

describe('state', () => {
  it('gives the same state hash for the same blocks and a different one otherwise', () => {
    const run = (amount: bigint) => {
      const { pool, build, state } = setup();
      pool.admit(pay(alice, 0, bob, amount));
      build();
      return state.seal(1).toString('hex');
    };
    assert.equal(run(5n), run(5n));
    assert.notEqual(run(5n), run(6n));
  });
});

it('a transaction stuck at the head of the expiry order no longer keeps every later committed one for its TTL', () => {
  const rich = keyPairFromLabel('mp-rich');
  const genesis = parseGenesis({ network: NET, accounts: [{ address: alice.address, balance: '1000' }, { address: rich.address, balance: '100000' }] });
  const clock = new ManualClock();
  const state = new LedgerState(genesis);
  const included = new Set<string>();
  const pool = new Mempool(DEFAULT_MEMPOOL_OPTIONS, clock, state, (k) => included.has(k));
  pool.admit(pay(alice, 1, bob)); // nonce 0 never comes: it waits for its deadline at the head
  const n = 12_000;
  for (let i = 0; i < n; i++) {
    pool.admit(pay(rich, i, bob));
    if (i % 200 === 199) {
      clock.advance(4); // well inside the TTL
      pool.expire();
      for (const tx of pool.build(1000, 1 << 30).included) included.add(tx.id.toString('latin1'));
    }
  }
  assert.equal(pool.size, 1, 'only the stuck one is pending');
  assert.ok(pool.trackedForExpiry < 8_200, `${pool.trackedForExpiry} entries kept for expiry with 1 pending (before: all ${n + 1})`);
  clock.advance(DEFAULT_MEMPOOL_OPTIONS.pendingTtlMs);
  assert.deepEqual(pool.expire().map((d) => d.code), ['TPSLAB_E_NONCE_GAP_EXPIRED']);
  assert.equal(pool.size, 0);
});
