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

/**
 * Per-transaction bookkeeping, in parallel columns (a beacon may hold millions): entries [0, size).
 * Numbers are typed arrays and every column is `capacity` long; past `size` it holds nothing
 * (0, Unsent, undefined). Appending writes in place and compaction moves the kept entries down
 * in place: JS arrays grown by `push` and cut by `splice` were half a flat-out beacon's CPU
 * (growing copies of million-entry arrays, the removed parts, and their collection).
 */
export interface Ledger {
  /** Entries held. */
  size: number;
  intended: Float64Array;
  sender: Float64Array;
  target: Float64Array;
  /** Order among the sender's transactions in this run. */
  ordinal: Float64Array;
  built: (BuiltTx | undefined)[];
  id: (string | undefined)[];
  /** TxState values. */
  state: Uint8Array;
  firstSentMs: Float64Array;
  attempts: Uint32Array;
  error: (string | undefined)[];
  committedMs: Float64Array;
  height: Float64Array;
}

const STATUS = ['pending', 'pending', 'pending', 'committed', 'failed', 'lost'] as const;
/** Initial capacity. */
const MIN_CAPACITY = 1024;
/**
 * The least a ledger shrinks to (about 5 MB): below it, a ledger emptied by each compaction and
 * refilled after (a beacon far behind its schedule) would be reallocated every cycle.
 */
const SHRINK_FLOOR = 65_536;

function sized(capacity: number, from?: Ledger, keep = 0): Ledger {
  const num = <T extends Float64Array | Uint32Array | Uint8Array>(make: new (n: number) => T, old: T | undefined): T => {
    const c = new make(capacity);
    if (old) c.set(old.subarray(0, keep));
    return c;
  };
  const obj = <T>(old: (T | undefined)[] | undefined): (T | undefined)[] => {
    const c = new Array<T | undefined>(capacity).fill(undefined);
    for (let i = 0; i < keep; i++) c[i] = old![i];
    return c;
  };
  return {
    size: keep,
    intended: num(Float64Array, from?.intended),
    sender: num(Float64Array, from?.sender),
    target: num(Float64Array, from?.target),
    ordinal: num(Float64Array, from?.ordinal),
    built: obj(from?.built),
    id: obj(from?.id),
    state: num(Uint8Array, from?.state),
    firstSentMs: num(Float64Array, from?.firstSentMs),
    attempts: num(Uint32Array, from?.attempts),
    error: obj(from?.error),
    committedMs: num(Float64Array, from?.committedMs),
    height: num(Float64Array, from?.height),
  };
}

export function emptyLedger(): Ledger {
  return sized(MIN_CAPACITY);
}

/** Moves the ledger's entries into columns of `capacity` (≥ size). */
function resize(t: Ledger, capacity: number): void {
  Object.assign(t, sized(capacity, t, t.size));
}

/** Appends an unsent entry; returns its index. */
export function appendEntry(t: Ledger, sender: number, target: number, intendedOffsetMs: number, ordinal: number): number {
  const i = t.size;
  if (i === t.state.length) resize(t, 2 * i);
  t.size = i + 1;
  t.intended[i] = intendedOffsetMs;
  t.sender[i] = sender;
  t.target[i] = target;
  t.ordinal[i] = ordinal;
  // The rest is as compaction or creation left it past `size`: 0, Unsent, undefined.
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

/** Drops entries [0, k) from every column, in place (the caller renumbers what refers to later entries). */
export function dropPrefix(t: Ledger, k: number): void {
  const n = t.size;
  // Entries never sent at the end (the plan and queue ahead: most of what stays in a beacon behind
  // its schedule) hold only plan columns: their send-time columns are 0 or undefined, as after
  // appendEntry, so those columns are moved only up to `fresh` and zeroed after it.
  let fresh = n;
  while (fresh > k && t.state[fresh - 1] === TxState.Unsent && t.attempts[fresh - 1] === 0) fresh--;
  for (const c of [t.intended, t.sender, t.target, t.ordinal]) {
    c.copyWithin(0, k, n);
    c.fill(0, n - k, n);
  }
  for (const c of [t.firstSentMs, t.attempts, t.committedMs, t.height, t.state]) {
    c.copyWithin(0, k, fresh);
    c.fill(0, fresh - k, n);
  }
  // A plain loop: Array#copyWithin takes V8's generic path (a property get and set per element).
  for (const c of [t.built, t.id] as (unknown[])[]) {
    for (let j = k; j < n; j++) c[j - k] = c[j];
    c.fill(undefined, n - k, n);
  }
  const e = t.error;
  for (let j = k; j < fresh; j++) e[j - k] = e[j];
  e.fill(undefined, fresh - k, n);
  t.size = n - k;
  // After a burst, give the memory back.
  if (t.size * 8 < t.state.length && t.state.length > SHRINK_FLOOR) resize(t, Math.max(SHRINK_FLOOR, 2 * t.size));
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
    status: STATUS[t.state[i]!] ?? 'pending',
    errorCode: t.error[i] ?? null,
    height: t.height[i] || null,
    attempts: t.attempts[i]!,
  };
}

/** Outcome rows of entries [from, to) (a reassigned share skips what its previous owner sent). */
export function outcomesOf(t: Ledger, from: number, startMs: number, to = t.size): Outcome[] {
  const out: Outcome[] = [];
  for (let i = from; i < to; i++) out.push(outcomeOf(t, i, startMs));
  return out;
}
