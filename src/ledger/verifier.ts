/**
 * Signature verification for ingress, the node's heaviest work per
 * transaction (~110 µs each). Batches are checked on worker threads (piscina),
 * so ingress uses more than one core; small batches and single submissions
 * are checked in place, where a thread hop would cost more than it saves.
 * A pooled batch is cut into one job per thread (at most MAX_JOB each), each
 * answered as soon as it is checked, so the threads share one batch and the
 * caller can pass on the first part (in order) while the rest is checked.
 * Smaller jobs were tried: jobs of 32 halved the median wait in the verify
 * queue, but each job's transactions then went to the sequencer in a forward
 * of their own, which cost the whole network 1.27x the CPU per transfer
 * (bench/README, latency-half-max).
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { TpslabError } from '../errors.js';
import { verifyTx } from '../protocol/signing.js';
import { signersOf, type SignedTx } from '../protocol/tx.js';
import { PUBLIC_KEY_BYTES, type VerifyTask } from './verify-worker.js';

/** Below this many transactions a batch is verified in place. */
const MIN_POOLED_BATCH = 16;
/** Transactions per worker job at most. */
const MAX_JOB = 256;
/**
 * And at least (unless the batch is smaller): each job is handed on to the sequencer in a forward of
 * its own, and jobs of 32 measured 1.26–1.27× the network's CPU per transfer (bench/README).
 */
const MIN_JOB = 64;

/** One job's answers: transactions `start` … `start + count - 1` of the batch. */
export interface VerifiedChunk {
  start: number;
  count: number;
  results: Promise<(TpslabError | undefined)[]>;
}

export interface SignatureVerifier {
  /**
   * The batch as consecutive chunks, in order, each settling as soon as its own transactions are
   * checked (chunks may settle out of order on several threads: read them in order to keep it).
   * One result per transaction: undefined when its signatures verify, else TPSLAB_E_BAD_SIGNATURE.
   */
  verify(txs: readonly SignedTx[], network: string): VerifiedChunk[];
  close(): Promise<void>;
}

/**
 * Default worker threads: one per core, at most 4. The event loop needs well
 * under half a core per transaction checked (profiled), so leaving it a whole
 * core idles it; measured on 2 cores: 2 threads 8.6k tx/s, 1 thread 6.6k, none 6.4k.
 */
export function defaultVerifyThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

function verifyInPlace(tx: SignedTx, network: string): TpslabError | undefined {
  try {
    verifyTx(tx, network);
    return undefined;
  } catch (err) {
    return err as TpslabError;
  }
}

/** A verify thread's job: each transaction's signed bytes and then its signers' keys, so the thread decodes nothing. */
export function verifyTask(txs: readonly SignedTx[], network: string): VerifyTask {
  const n = txs.length;
  const offsets = new Uint32Array(n + 1);
  const bodyLengths = new Uint32Array(n);
  const signerCounts = new Uint8Array(n);
  const signerLists: Buffer[][] = new Array<Buffer[]>(n);
  let size = 0;
  for (let i = 0; i < n; i++) {
    const tx = txs[i]!;
    const signers = signersOf(tx.body);
    signerLists[i] = signers;
    offsets[i] = size;
    bodyLengths[i] = tx.bodyLength;
    signerCounts[i] = signers.length;
    size += tx.bytes.length + signers.length * PUBLIC_KEY_BYTES;
  }
  offsets[n] = size;
  const packed = new Uint8Array(size);
  for (let i = 0; i < n; i++) {
    const tx = txs[i]!;
    let at = offsets[i]!;
    packed.set(tx.bytes, at);
    at += tx.bytes.length;
    for (const key of signerLists[i]!) {
      packed.set(key, at);
      at += PUBLIC_KEY_BYTES;
    }
  }
  return { network, packed, offsets, bodyLengths, signers: signerCounts };
}

export function createVerifier(threads: number): SignatureVerifier {
  const inPlace = (txs: readonly SignedTx[], network: string): VerifiedChunk[] => [{ start: 0, count: txs.length, results: Promise.resolve(txs.map((tx) => verifyInPlace(tx, network))) }];
  if (threads <= 0) {
    return { verify: inPlace, close: async () => {} };
  }
  // stricterFIFO: first come, first served. Without it piscina sends the job at the head of its queue to the
  // back each time a busy thread turns it down, so under load a batch waited behind batches that came after it.
  const pool = new Piscina({ filename: new URL('./verify-worker.js', import.meta.url).href, minThreads: threads, maxThreads: threads, idleTimeout: 60_000, stricterFIFO: true });
  const runChunk = async (txs: readonly SignedTx[], network: string): Promise<(TpslabError | undefined)[]> => {
    const task = verifyTask(txs, network);
    const codes = (await pool.run(task, { transferList: [task.packed.buffer, task.offsets.buffer, task.bodyLengths.buffer, task.signers.buffer] })) as Int32Array;
    // Failures are rare: re-check them here for the exact coded message.
    return txs.map((tx, i) => (codes[i] === -1 ? undefined : verifyInPlace(tx, network)));
  };
  return {
    verify(txs, network) {
      if (txs.length < MIN_POOLED_BATCH) return inPlace(txs, network);
      const chunks: VerifiedChunk[] = [];
      const job = Math.min(MAX_JOB, Math.max(MIN_JOB, Math.ceil(txs.length / threads)));
      for (let i = 0; i < txs.length; i += job) {
        const results = runChunk(txs.slice(i, i + job), network);
        results.catch(() => {}); // the caller reads chunks in order: a later one may fail before it gets there
        chunks.push({ start: i, count: Math.min(job, txs.length - i), results });
      }
      return chunks;
    },
    close: () => pool.destroy(),
  };
}
