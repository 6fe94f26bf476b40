// The verify pool: each batch's answers, and the order in which a busy pool takes batches.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createVerifier } from '../../src/ledger/verifier.js';
import { signTx } from '../../src/protocol/signing.js';
import type { SignedTx } from '../../src/protocol/tx.js';
import { testAccounts } from '../testkit/index.js';

const NETWORK = 'verifier-test';

/** `n` transfers; those at `bad` are signed for another network, so their signatures fail here. */
function transfers(n: number, bad: ReadonlySet<number>): SignedTx[] {
  const [a, b] = testAccounts('verifier', 2);
  return Array.from({ length: n }, (_, i) =>
    signTx({ kind: 'transfer', nonce: BigInt(i), fee: 0n, deps: [], inputs: [{ account: a!.publicKey, amount: 1n }], outputs: [{ account: b!.publicKey, amount: 1n }] }, [a!], bad.has(i) ? 'elsewhere' : NETWORK),
  );
}

describe('signature verifier (verify pool)', () => {
  it('answers each transaction of a batch, naming only the bad signatures', async () => {
    const bad = new Set([1, 40, 299]);
    for (const threads of [0, 2]) {
      const v = createVerifier(threads);
      try {
        const codes = (await v.verify(transfers(300, bad), NETWORK)).map((e) => e?.code ?? 'ok');
        assert.deepEqual(codes, Array.from({ length: 300 }, (_, i) => (bad.has(i) ? 'TPSLAB_E_BAD_SIGNATURE' : 'ok')), `${threads} threads`);
      } finally {
        await v.close();
      }
    }
  });

  it('takes batches first come, first served on a busy thread (piscina sent a waiting one to the back of its queue each time one finished)', async () => {
    const v = createVerifier(1);
    try {
      const txs = transfers(32, new Set());
      await v.verify(txs, NETWORK); // the thread is up
      const settled: number[] = [];
      await Promise.all(Array.from({ length: 10 }, (_, k) => v.verify(txs, NETWORK).then(() => settled.push(k))));
      assert.deepEqual(settled, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      await v.close();
    }
  });
});
