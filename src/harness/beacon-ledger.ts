/**
 * A beacon's per-transaction bookkeeping: parallel arrays (a beacon may hold millions of
 * transactions), their states, and the outcome rows they become when asked for.
 */
import type { BuiltTx } from '../connectors/contract.js';
import type { Outcome } from './messages.js';

export const enum TxState {
  Unsent = 0,
  Waiting = 1,
  InFlight = 2,
  Committed = 3,
  Failed = 4,
  Lost = 5,
}

/** Per-transaction bookkeeping, in parallel arrays (a beacon may hold millions). */
export interface Ledger {
  intended: number[];
  sender: number[];
  target: number[];
  /** Order among the sender's transactions in this run. */
  ordinal: number[];
  built: (BuiltTx | undefined)[];
  id: (string | undefined)[];
  state: TxState[];
  firstSentMs: number[];
  attempts: number[];
  error: (string | undefined)[];
  committedMs: number[];
  height: number[];
}

const STATUS = ['pending', 'pending', 'pending', 'committed', 'failed', 'lost'] as const;

export function emptyLedger(): Ledger {
  return { intended: [], sender: [], target: [], ordinal: [], built: [], id: [], state: [], firstSentMs: [], attempts: [], error: [], committedMs: [], height: [] };
}

/** Appends an unsent entry; returns its index. */
export function appendEntry(t: Ledger, sender: number, target: number, intendedOffsetMs: number, ordinal: number): number {
  const i = t.intended.length;
  t.intended.push(intendedOffsetMs);
  t.sender.push(sender);
  t.target.push(target);
  t.ordinal.push(ordinal);
  t.built.push(undefined);
  t.id.push(undefined);
  t.state.push(TxState.Unsent);
  t.firstSentMs.push(0);
  t.attempts.push(0);
  t.error.push(undefined);
  t.committedMs.push(0);
  t.height.push(0);
  return i;
}

/** The map with its entry indexes below `k` gone and the rest moved down by `k` (the ledger dropped its first k). */
export function shiftIndexKeys<V>(m: Map<number, V>, k: number): Map<number, V> {
  const out = new Map<number, V>();
  for (const [i, v] of m) if (i >= k) out.set(i - k, v);
  return out;
}

/** Committed, failed or lost: counted, and never sent again. */
export function isResolved(s: TxState | undefined): boolean {
  return s === TxState.Committed || s === TxState.Failed || s === TxState.Lost;
}

/** Drops entries [0, k) from every column (the caller renumbers what refers to later entries). */
export function dropPrefix(t: Ledger, k: number): void {
  for (const column of Object.values(t) as unknown[][]) column.splice(0, k);
}

/** Entry i's outcome row. */
export function outcomeOf(t: Ledger, i: number, startMs: number): Outcome {
  return {
    id: t.id[i] ?? '',
    sender: t.sender[i]!,
    nonce: t.ordinal[i]!,
    intendedMs: startMs + t.intended[i]!,
    sentMs: t.firstSentMs[i] || null,
    committedMs: t.committedMs[i] || null,
    status: STATUS[t.state[i]!],
    errorCode: t.error[i] ?? null,
    height: t.height[i] || null,
    attempts: t.attempts[i]!,
  };
}

/** Outcome rows of entries [from, to) (a reassigned share skips what its previous owner sent). */
export function outcomesOf(t: Ledger, from: number, startMs: number, to = t.state.length): Outcome[] {
  const out: Outcome[] = [];
  for (let i = from; i < to; i++) out.push(outcomeOf(t, i, startMs));
  return out;
}
