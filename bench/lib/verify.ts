/**
 * The Ed25519 baseline: how many signature checks one core does, through the
 * node's own verify path (`verifyRaw`, cached public-key objects), on real
 * transfer bodies with the signing domain — the exact message a node verifies.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { keyPairFromLabel, signTx, signingDomain, verifyRaw } from '../../src/protocol/signing.js';

export const VERIFY_MESSAGES = 2_000;
export const VERIFY_KEYS = 4;
const VERIFY_WARMUP = 500;
/** Upper bound on verifications in one measurement, whatever its duration. */
const VERIFY_MAX = 1_000_000;

export interface VerifySet {
  msgs: Buffer[];
  sigs: Buffer[];
  pubs: Buffer[];
}

export interface VerifyRate {
  /** Verifications per wall-clock second. */
  perSecond: number;
  /** Verifications per CPU-second of this process (robust to other load on the machine). */
  perCpuSecond: number;
  count: number;
  ms: number;
}

/** VERIFY_MESSAGES distinct real transfer bodies, with `network`'s signing domain, signed by a few keys; warmed up. */
export function verifySet(network: string): VerifySet {
  const keys = Array.from({ length: VERIFY_KEYS }, (_, i) => keyPairFromLabel(`bench-verify-${i}`));
  const domain = signingDomain(network);
  const set: VerifySet = { msgs: [], sigs: [], pubs: [] };
  for (let i = 0; i < VERIFY_MESSAGES; i++) {
    const from = keys[i % VERIFY_KEYS]!;
    const to = keys[(i + 1) % VERIFY_KEYS]!;
    const tx = signTx(
      { kind: 'transfer', nonce: BigInt(i), fee: 0n, deps: [], inputs: [{ account: from.publicKey, amount: BigInt(1 + i) }], outputs: [{ account: to.publicKey, amount: BigInt(1 + i) }] },
      [from],
      network,
    );
    set.msgs.push(Buffer.concat([domain, tx.bytes.subarray(0, tx.bodyLength)]));
    set.sigs.push(tx.signatures[0]!);
    set.pubs.push(from.publicKey);
  }
  for (let i = 0; i < VERIFY_WARMUP; i++) {
    const k = i % VERIFY_MESSAGES;
    if (!verifyRaw(set.msgs[k]!, set.pubs[k]!, set.sigs[k]!)) throw new Error(`baseline signature ${k} does not verify`);
  }
  return set;
}

/**
 * Ed25519 verifications per second on this (main) thread, through the node's
 * own verifyRaw. Bounded by VERIFY_MAX and by durationMs.
 */
export function measureVerify(set: VerifySet, durationMs: number): VerifyRate {
  let count = 0;
  let bad = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let now = start;
  while (count < VERIFY_MAX) {
    for (let j = 0; j < 250; j++, count++) {
      const k = count % VERIFY_MESSAGES;
      if (!verifyRaw(set.msgs[k]!, set.pubs[k]!, set.sigs[k]!)) bad++;
    }
    now = performance.now();
    if (now - start >= durationMs) break;
  }
  const cpu = process.cpuUsage(cpu0);
  if (bad) throw new Error(`${bad} baseline signatures failed to verify`);
  const ms = now - start;
  return { perSecond: (count / ms) * 1000, perCpuSecond: count / ((cpu.user + cpu.system) / 1e6), count, ms };
}

/**
 * Ed25519 verifications per second of `threads` worker threads at once (the machine's
 * multi-core capacity, issue 15's yardstick: "2-thread verification" on 2 cores): each
 * builds its own set, all start together, and the rate is every thread's count over the
 * longest thread's time. `perCpuSecond`: every thread's count per CPU-second of this
 * whole process over the measurement (about one thread's rate when each has a core).
 */
export async function measureVerifyThreads(network: string, threads: number, durationMs: number): Promise<VerifyRate> {
  const url = new URL('./verify-thread.js', import.meta.url);
  const workers = Array.from({ length: threads }, () => new Worker(url, { workerData: { network, durationMs } }));
  try {
    await Promise.all(workers.map((w) => once(w, 'message'))); // each has built and warmed its set
    const results = workers.map((w) => once(w, 'message').then(([r]) => r as VerifyRate));
    const cpu0 = process.cpuUsage(); // process-wide: the worker threads' time too
    for (const w of workers) w.postMessage('go');
    const rates = await Promise.all(results);
    const cpu = process.cpuUsage(cpu0);
    const count = rates.reduce((a, r) => a + r.count, 0);
    const ms = Math.max(...rates.map((r) => r.ms));
    return { perSecond: (count / ms) * 1000, perCpuSecond: count / ((cpu.user + cpu.system) / 1e6), count, ms };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
