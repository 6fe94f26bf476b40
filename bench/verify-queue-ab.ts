/**
 * A/B of a node's verify queue between builds: how long each transaction waits from its batch's
 * arrival until it can be handed on to the sequencer. Each tree's own `createVerifier`
 * (`dist/src/ledger/verifier.js`, with its own worker) on one thread, which is what `net up` gives
 * each node on a 2-core machine, is fed the same stream of batches (sizes 16–200, random arrivals
 * keeping the thread about `--load` busy), in the order A B B A A B …, all in this process, so a
 * drift in the machine's load falls on every tree.
 *
 * A transaction can be handed on once its batch is checked (builds whose `verify` answers a
 * promise per batch), or once its own chunk and every earlier chunk of the batch are (builds that
 * answer a list of chunks). Waits count from the batch's intended arrival.
 *
 *   node dist/bench/verify-queue-ab.js --trees /work/wt/latency-base,. [--rounds 3] [--load 0.6] [--seconds 5]
 *
 * Not part of `npm run bench`: a tool for commits that change the verify pool.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { keyPairFromLabel, signTx } from '../src/protocol/signing.js';
import type { SignedTx } from '../src/protocol/tx.js';
import { rng } from '../test/dataset/chain.js';

const NETWORK = 'verify-queue-ab';
const SENDERS = 20;
const TXS_PER_SENDER = 100;
const MIN_BATCH = 16;
const MAX_BATCH = 200;

type Chunked = { start: number; count: number; results: Promise<unknown[]> }[];
interface AnyVerifier {
  verify(txs: readonly SignedTx[], network: string): Promise<unknown[]> | Chunked;
  close(): Promise<void>;
}

interface Args {
  trees: string[];
  rounds: number;
  load: number;
  seconds: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { trees: ['.'], rounds: 3, load: 0.6, seconds: 5 };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i]!, argv[i + 1]];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--trees') a.trees = v.split(',').filter(Boolean);
    else if (k === '--rounds' || k === '--load' || k === '--seconds') {
      const n = Number(v);
      if (!(n > 0) || (k === '--rounds' && !Number.isInteger(n)) || (k === '--load' && n >= 1)) throw new Error(`${k} must be a positive number${k === '--load' ? ' below 1' : ''}, got "${v}"`);
      a[k.slice(2) as 'rounds' | 'load' | 'seconds'] = n;
    } else throw new Error(`unknown argument "${k}"; see the header of bench/verify-queue-ab.ts`);
  }
  return a;
}


/** The batches: arrival offset (ms) and size, for `seconds` at `txPerSec`. */
function schedule(seconds: number, txPerSec: number): { atMs: number; size: number }[] {
  const r = rng(15);
  const meanSize = (MIN_BATCH + MAX_BATCH) / 2;
  const out: { atMs: number; size: number }[] = [];
  for (let at = 0; at < seconds * 1000; at += (-Math.log(1 - r()) * meanSize * 1000) / txPerSec) {
    out.push({ atMs: at, size: MIN_BATCH + Math.floor(r() * (MAX_BATCH - MIN_BATCH + 1)) });
  }
  return out;
}

/** One pass: every batch sent at its time; the wait of every transaction, in ms. */
async function pass(v: AnyVerifier, txs: readonly SignedTx[], batches: readonly { atMs: number; size: number }[]): Promise<Float64Array> {
  const waits = new Float64Array(batches.reduce((n, b) => n + b.size, 0));
  let w = 0;
  let next = 0;
  const t0 = performance.now() + 20;
  const done: Promise<void>[] = [];
  const record = (arrivedMs: number, at: number, n: number): void => {
    const ms = performance.now() - arrivedMs;
    for (let k = 0; k < n; k++) waits[at + k] = ms;
  };
  await new Promise<void>((resolveAll) => {
    const tick = (): void => {
      const now = performance.now();
      while (next < batches.length && t0 + batches[next]!.atMs <= now) {
        const b = batches[next++]!;
        const arrivedMs = t0 + b.atMs;
        const from = (next * 37) % (txs.length - MAX_BATCH);
        const answer = v.verify(txs.slice(from, from + b.size), NETWORK);
        const at = w;
        w += b.size;
        if (Array.isArray(answer)) {
          // Handed on in order: a chunk once it and every earlier one are checked.
          done.push((async () => {
            for (const c of answer) {
              await c.results;
              record(arrivedMs, at + c.start, c.count);
            }
          })());
        } else done.push(answer.then(() => record(arrivedMs, at, b.size)));
      }
      if (next < batches.length) setTimeout(tick, Math.max(0, t0 + batches[next]!.atMs - performance.now()));
      else resolveAll();
    };
    setTimeout(tick, 20);
  });
  await Promise.all(done);
  return waits;
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const trees = args.trees.map((t) => resolve(t));
  const verifiers: AnyVerifier[] = [];
  for (const t of trees) {
    const mod = (await import(pathToFileURL(`${t}/dist/src/ledger/verifier.js`).href)) as { createVerifier(threads: number): AnyVerifier };
    verifiers.push(mod.createVerifier(1));
  }
  const txs: SignedTx[] = [];
  const to = keyPairFromLabel('verify-queue-ab-to');
  for (let s = 0; s < SENDERS; s++) {
    const from = keyPairFromLabel(`verify-queue-ab-${s}`);
    for (let n = 0; n < TXS_PER_SENDER; n++) {
      txs.push(signTx({ kind: 'transfer', nonce: BigInt(n), fee: 0n, deps: [], inputs: [{ account: from.publicKey, amount: 1n }], outputs: [{ account: to.publicKey, amount: 1n }] }, [from], NETWORK));
    }
  }
  // Every tree warm (threads up, code compiled); then one thread's rate, the median of five runs on the
  // first tree (the best would overstate what a shared machine sustains), sets the arrival rate.
  const all1 = async (v: AnyVerifier): Promise<void> => {
    const a = v.verify(txs, NETWORK);
    await (Array.isArray(a) ? Promise.all(a.map((c) => c.results)) : a);
  };
  for (const v of verifiers) await all1(v);
  const runsMs: number[] = [];
  for (let k = 0; k < 5; k++) {
    const t = performance.now();
    await all1(verifiers[0]!);
    runsMs.push(performance.now() - t);
  }
  const perThreadPerSec = txs.length / (runsMs.sort((a, b) => a - b)[2]! / 1000);
  const batches = schedule(args.seconds, perThreadPerSec * args.load);
  console.log(`one thread checks ${perThreadPerSec.toFixed(0)} tx/s; ${batches.length} batches (${MIN_BATCH}–${MAX_BATCH} tx) over ${args.seconds} s, ${(args.load * 100).toFixed(0)}% of it`);
  const all: Float64Array[][] = trees.map(() => []);
  for (let r = 0; r < args.rounds; r++) {
    const order = trees.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) all[i]!.push(await pass(verifiers[i]!, txs, batches));
  }
  console.log('tree | tx | wait p50 / p90 / p99 / max, ms');
  const p99s: number[] = [];
  trees.forEach((tree, i) => {
    const merged = new Float64Array(all[i]!.reduce((n, a) => n + a.length, 0));
    let o = 0;
    for (const a of all[i]!) merged.set(a, (o += a.length) - a.length);
    merged.sort();
    p99s.push(quantile(merged, 0.99));
    console.log(`${tree} | ${merged.length} | ${[0.5, 0.9, 0.99].map((q) => quantile(merged, q).toFixed(1)).join(' / ')} / ${merged[merged.length - 1]!.toFixed(1)}`);
  });
  for (let i = 1; i < trees.length; i++) console.log(`p99 ${trees[i]} ÷ ${trees[0]}: ${(p99s[i]! / p99s[0]!).toFixed(2)}`);
  await Promise.all(verifiers.map((v) => v.close()));
}

await main();
