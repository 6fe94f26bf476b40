/**
 * Accounts for the preparator, derived ahead on worker threads.
 *
 * Deriving an account's Ed25519 public key from its seed is the costliest step
 * of a preparation (≈ 30 µs of CPU; node:crypto's JWK import is the fastest
 * path we found, see docs/dataset.md#rate), and turning an output script into
 * its seed (address encoding, two or three hashes) comes next; neither depends
 * on the state: a block's output scripts are known as soon as it is parsed.
 * So blocks are read and parsed a few ahead of the one being converted, the
 * scripts without a cached seed and the seeds without a cached key go to
 * `jobs` worker threads (piscina) in chunks, and the results land in the
 * `SeedCache` and `PublicKeyCache` the conversion reads. The conversion stays
 * on one thread, in order, and computes in place whatever the workers have not
 * delivered (a cache eviction, say): the dataset is byte for byte the same
 * with any number of jobs.
 */
import { Piscina } from 'piscina';
import { TpslabError } from '../errors.js';
import { isUnspendable, type PublicKeyCache, type SeedCache } from './accounts.js';
import type { SourceNetwork } from './blk-files.js';
import type { BtcBlock } from './btc-block.js';
import type { DeriveResult, DeriveTask } from './derive-worker.js';

/** Keys per worker task: large enough that a thread hop costs little against ≈ 30 µs a key. */
const CHUNK_KEYS = 512;

export class KeyDeriver {
  private readonly pool: Piscina;
  /** Scripts and seeds (latin1) sent to a worker and not yet back. */
  private readonly inFlight = new Set<string>();
  /** Keys derived by the workers. */
  derived = 0;
  /** Tasks sent to the pool and not yet settled: close() waits for them (a result arriving after destroy() crashed the process). */
  private readonly tasks = new Set<Promise<unknown>>();

  constructor(
    readonly jobs: number,
    private readonly keys: PublicKeyCache,
  ) {
    this.pool = new Piscina({ filename: new URL('./derive-worker.js', import.meta.url).href, minThreads: jobs, maxThreads: jobs, idleTimeout: 60_000 });
  }

  /**
   * Sends what `block`'s outputs will need (their transactions' outputs,
   * coinbases included: their accounts are kept with the output, so a later
   * spend derives nothing) and is neither cached nor on its way. Resolves when
   * the seeds and keys are in the caches.
   */
  prefetch(block: BtcBlock, seeds: SeedCache, network: SourceNetwork): Promise<void> {
    const scripts: { key: string; script: Buffer }[] = [];
    const wanted: Buffer[] = [];
    const tasks: Promise<void>[] = [];
    const send = (): void => {
      if (scripts.length + wanted.length === 0) return;
      tasks.push(this.run(network, scripts.splice(0), wanted.splice(0), seeds));
    };
    for (const tx of block.txs) {
      for (const o of tx.outs) {
        if (o.value === 0n && isUnspendable(o.script)) continue;
        const key = o.script.toString('latin1');
        if (this.inFlight.has(key)) continue;
        const seed = seeds.peek(key);
        if (!seed) {
          this.inFlight.add(key);
          scripts.push({ key, script: o.script });
        } else {
          const sk = seed.toString('latin1');
          if (this.keys.has(seed) || this.inFlight.has(sk)) continue;
          this.inFlight.add(sk);
          wanted.push(seed);
        }
        if (scripts.length + wanted.length >= CHUNK_KEYS) send();
      }
    }
    send();
    return Promise.all(tasks).then(() => undefined);
  }

  private async run(network: SourceNetwork, scripts: { key: string; script: Buffer }[], wanted: Buffer[], seeds: SeedCache): Promise<void> {
    const offsets = new Uint32Array(scripts.length + 1);
    let size = 0;
    scripts.forEach((s, i) => {
      offsets[i] = size;
      size += s.script.length;
    });
    offsets[scripts.length] = size;
    const packed = new Uint8Array(size);
    scripts.forEach((s, i) => packed.set(s.script, offsets[i]!));
    const seedBytes = new Uint8Array(wanted.length * 32);
    wanted.forEach((s, i) => seedBytes.set(s, i * 32));
    const task: DeriveTask = { network, scripts: packed, offsets, seeds: seedBytes };
    let out: DeriveResult;
    try {
      const running = this.pool.run(task, { transferList: [packed.buffer, offsets.buffer, seedBytes.buffer] }) as Promise<DeriveResult>;
      this.tasks.add(running);
      try {
        out = await running;
      } finally {
        this.tasks.delete(running);
      }
    } catch (err) {
      throw new TpslabError('TPSLAB_E_INTERNAL', `a key derivation worker failed: ${(err as Error).message}`, { cause: err });
    }
    const keyAt = (i: number): Buffer => Buffer.from(out.keys.subarray(i * 32, i * 32 + 32));
    scripts.forEach((s, i) => {
      const seed = Buffer.from(out.scriptSeeds.subarray(i * 32, i * 32 + 32));
      seeds.put(s.key, seed);
      this.keys.put(seed, keyAt(i));
      this.inFlight.delete(s.key);
    });
    wanted.forEach((seed, i) => {
      this.keys.put(seed, keyAt(scripts.length + i));
      this.inFlight.delete(seed.toString('latin1'));
    });
    this.derived += scripts.length + wanted.length;
  }

  /** Waits for tasks still with a worker (their results are dropped), then ends the workers. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.tasks]);
    await this.pool.destroy();
  }
}
