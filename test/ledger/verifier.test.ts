// The verify pool: a batch answered in one job per thread (64 to 256 transactions each), in order,
// each as soon as it is checked (with 2 threads a batch was one job on one thread while the other
// idled), and the order in which a busy pool takes jobs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createVerifier, verifyTask, type SignatureVerifier } from '../../src/ledger/verifier.js';
import verifyBatch from '../../src/ledger/verify-worker.js';
import { decodeTx, signTx } from '../../src/protocol/signing.js';
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

/** Each transaction's error code (or 'ok'), read chunk by chunk in order. */
async function codes(v: SignatureVerifier, txs: readonly SignedTx[]): Promise<{ starts: number[]; counts: number[]; codes: string[] }> {
  const chunks = v.verify(txs, NETWORK);
  const out: string[] = [];
  for (const c of chunks) out.push(...(await c.results).map((e) => e?.code ?? 'ok'));
  return { starts: chunks.map((c) => c.start), counts: chunks.map((c) => c.count), codes: out };
}

describe('signature verifier (verify pool)', () => {
  it('shares a pooled batch among the threads, one job each of 64 to 256, in order, each naming only its own bad signatures', async () => {
    const v = createVerifier(2);
    try {
      for (const [n, starts, counts] of [[101, [0, 64], [64, 37]], [160, [0, 80], [80, 80]], [600, [0, 256, 512], [256, 256, 88]]] as const) {
        const bad = new Set([1, 60, n - 1]);
        const r = await codes(v, transfers(n, bad));
        assert.deepEqual([r.starts, r.counts], [starts, counts], `${n} transactions`);
        assert.deepEqual(r.codes, Array.from({ length: n }, (_, i) => (bad.has(i) ? 'TPSLAB_E_BAD_SIGNATURE' : 'ok')));
      }
    } finally {
      await v.close();
    }
  });

  it('with one thread, checks a batch of 200 as one job', async () => {
    const v = createVerifier(1);
    try {
      const r = await codes(v, transfers(200, new Set()));
      assert.deepEqual([r.starts, r.counts], [[0], [200]]);
    } finally {
      await v.close();
    }
  });

  it('takes batches first come, first served on a busy thread (piscina sent a waiting one to the back of its queue each time one finished)', async () => {
    const v = createVerifier(1);
    try {
      const txs = transfers(32, new Set());
      await v.verify(txs, NETWORK)[0]!.results; // the thread is up
      const settled: number[] = [];
      await Promise.all(Array.from({ length: 10 }, (_, k) => v.verify(txs, NETWORK)[0]!.results.then(() => settled.push(k))));
      assert.deepEqual(settled, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      await v.close();
    }
  });

  it('checks a small batch in place, and every batch without threads, as one chunk', async () => {
    const pooled = createVerifier(2);
    const none = createVerifier(0);
    try {
      for (const [v, n] of [[pooled, 10], [none, 300]] as const) {
        const r = await codes(v, transfers(n, new Set([n - 1])));
        assert.deepEqual([r.starts, r.counts], [[0], [n]]);
        assert.deepEqual(r.codes, Array.from({ length: n }, (_, i) => (i === n - 1 ? 'TPSLAB_E_BAD_SIGNATURE' : 'ok')));
      }
    } finally {
      await pooled.close();
      await none.close();
    }
  });
  it('checks transfers of several signers on the threads, which get each signer key with its transaction and decode nothing', async () => {
    const [a, b, c] = testAccounts('verifier-multi', 3);
    const body = (nonce: number) => ({
      kind: 'transfer' as const,
      nonce: BigInt(nonce),
      fee: 0n,
      deps: [],
      inputs: [{ account: a!.publicKey, amount: 1n }, { account: b!.publicKey, amount: 2n }],
      outputs: [{ account: c!.publicKey, amount: 3n }],
    });
    // Decoded from bytes as ingress does. Every 7th has a byte of its second signature flipped, every 11th is one input only.
    const txs = Array.from({ length: 100 }, (_, i) => {
      if (i % 11 === 0) return decodeTx(signTx({ ...body(i), inputs: [{ account: c!.publicKey, amount: 3n }] }, [c!], NETWORK).bytes);
      const signed = signTx(body(i), [a!, b!], NETWORK);
      const bytes = Buffer.from(signed.bytes);
      if (i % 7 === 0) bytes[signed.bodyLength + 64 + 5]! ^= 1;
      return decodeTx(bytes);
    });
    // The thread's own answers (the pool re-checks any failure in place, which would hide a thread that refused good ones).
    assert.deepEqual([...verifyBatch(verifyTask(txs, NETWORK))], txs.map((_, i) => (i % 11 !== 0 && i % 7 === 0 ? 1 : -1)));
    assert.deepEqual([...verifyBatch(verifyTask(txs, 'elsewhere'))], txs.map(() => 0));
    const v = createVerifier(2);
    try {
      const r = await codes(v, txs);
      assert.deepEqual(r.counts, [64, 36]);
      assert.deepEqual(r.codes, txs.map((_, i) => (i % 11 !== 0 && i % 7 === 0 ? 'TPSLAB_E_BAD_SIGNATURE' : 'ok')));
    } finally {
      await v.close();
    }
  });
});
