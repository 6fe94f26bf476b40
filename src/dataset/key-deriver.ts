/**
 * Public keys for the preparator, derived ahead on worker threads.
 *
 * Deriving an account's Ed25519 public key from its seed is the costliest step
 * of a preparation (≈ 30 µs of CPU; node:crypto's JWK import is the fastest
 * path we found, see docs/dataset.md#rate), and it does not depend on the
 * state: a block's output seeds are known as soon as it is parsed. So blocks
 * are read and parsed a few ahead of the one being converted, their new seeds
 * go to `jobs` worker threads (piscina) in chunks, and the keys land in the
 * `PublicKeyCache` the conversion reads. The conversion itself stays on one
 * thread, in order, and derives in place whatever the workers have not
 * delivered (a cache eviction, an output spent in the block it was created
 * in): the dataset is byte for byte the same with any number of jobs.
 */
import { Piscina } from 'piscina';
import { TpslabError } from '../errors.js';
import { isUnspendable, type PublicKeyCache, type SeedCache } from './accounts.js';
import type { BtcBlock } from './btc-block.js';

/** Seeds per worker task: large enough that a thread hop costs little against ≈ 30 µs a key. */
const CHUNK_SEEDS = 512;

export class KeyDeriver {
  private readonly pool: Piscina;
  /** Seeds (latin1) sent to a worker and not yet back. */
  private readonly inFlight = new Set<string>();
  /** Keys derived by the workers. */
  derived = 0;

  constructor(
    readonly jobs: number,
    private readonly keys: PublicKeyCache,
  ) {
    this.pool = new Piscina({ filename: new URL('./derive-worker.js', import.meta.url).href, minThreads: jobs, maxThreads: jobs, idleTimeout: 60_000 });
  }

  /**
   * Sends the seeds of `block`'s outputs that will need a key (outputs of its
   * transactions, coinbases included: their accounts are kept with the
   * output, so a later spend derives nothing) and are neither cached nor on
   * their way. Resolves when their keys are in the cache.
   */
  prefetch(block: BtcBlock, seeds: SeedCache): Promise<void> {
    const wanted: Buffer[] = [];
    for (const tx of block.txs) {
      for (const o of tx.outs) {
        if (o.value === 0n && isUnspendable(o.script)) continue;
        const seed = seeds.get(o.script);
        const k = seed.toString('latin1');
        if (this.keys.has(seed) || this.inFlight.has(k)) continue;
        this.inFlight.add(k);
        wanted.push(seed);
      }
    }
    const tasks: Promise<void>[] = [];
    for (let i = 0; i < wanted.length; i += CHUNK_SEEDS) tasks.push(this.run(wanted.slice(i, i + CHUNK_SEEDS)));
    return Promise.all(tasks).then(() => undefined);
  }

  private async run(seeds: Buffer[]): Promise<void> {
    const packed = new Uint8Array(seeds.length * 32);
    seeds.forEach((s, i) => packed.set(s, i * 32));
    let out: Uint8Array;
    try {
      out = (await this.pool.run(packed, { transferList: [packed.buffer] })) as Uint8Array;
    } catch (err) {
      throw new TpslabError('TPSLAB_E_INTERNAL', `a key derivation worker failed: ${(err as Error).message}`, { cause: err });
    }
    const keys = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    seeds.forEach((s, i) => {
      this.keys.put(s, Buffer.from(keys.subarray(i * 32, i * 32 + 32)));
      this.inFlight.delete(s.toString('latin1'));
    });
    this.derived += seeds.length;
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
