/**
 * Turns blocks into account-history rows: pure, no I/O. Each transaction
 * gives one row per account it touches (a leg), with the account's balance
 * after the transaction. Balances and topic sequence numbers are replayed
 * here from genesis the way the ledger applies them (blocks hold only
 * transactions that executed).
 */
import { encodeAddress } from '../../protocol/address.js';
import type { Block } from '../../protocol/block.js';
import { senderOf } from '../../protocol/tx.js';

export type Direction = 'in' | 'out' | 'fee' | 'created';

export interface HistoryRow {
  account: string;
  height: number;
  txIndex: number;
  /** Position of this row within its transaction (unique per account and transaction). */
  leg: number;
  txId: string;
  kind: string;
  direction: Direction;
  amount: bigint;
  fee: bigint;
  /** The other side: the sender for `in`, the first output for `out`. */
  counterparty: string;
  balanceAfter: bigint;
  topic: string | undefined;
  seq: bigint | undefined;
  timestampMs: number;
}

export interface IndexedBlock {
  height: number;
  hash: string;
  prevHash: string;
  timestampMs: number;
  rows: HistoryRow[];
  balances: Map<string, bigint>;
  topics: Map<string, bigint>;
}

/** What the indexer must know of the state before a block: current balances and topic counters. */
export interface StateView {
  balance(account: string): bigint;
  nextSeq(topic: string): bigint;
}

/** Accounts and topics a block reads, so a store can load just those. */
export function touched(block: Block): { accounts: string[]; topics: string[] } {
  const accounts = new Set<string>();
  const topics = new Set<string>();
  for (const tx of block.txs) {
    const b = tx.body;
    accounts.add(encodeAddress(senderOf(b)));
    if (b.kind === 'transfer') for (const e of [...b.inputs, ...b.outputs]) accounts.add(encodeAddress(e.account));
    if (b.kind === 'create-account') accounts.add(encodeAddress(b.account));
    if (b.kind === 'message') topics.add(b.topic);
  }
  return { accounts: [...accounts], topics: [...topics] };
}

export function indexBlock(block: Block, view: StateView): IndexedBlock {
  const balances = new Map<string, bigint>();
  const topics = new Map<string, bigint>();
  const bal = (a: string): bigint => balances.get(a) ?? view.balance(a);
  const rows: HistoryRow[] = [];
  block.txs.forEach((tx, txIndex) => {
    const b = tx.body;
    const sender = encodeAddress(senderOf(b));
    const base = { height: block.height, txIndex, txId: tx.id.toString('hex'), kind: b.kind, timestampMs: block.timestampMs, topic: undefined as string | undefined, seq: undefined as bigint | undefined };
    const legs: Omit<HistoryRow, 'balanceAfter' | 'leg'>[] = [];
    if (b.kind === 'transfer') {
      const to = encodeAddress(b.outputs[0]!.account);
      b.inputs.forEach((e, i) => {
        const a = encodeAddress(e.account);
        const fee = i === 0 ? b.fee : 0n;
        balances.set(a, bal(a) - e.amount - fee);
        legs.push({ ...base, account: a, direction: 'out', amount: e.amount, fee, counterparty: to });
      });
      for (const e of b.outputs) {
        const a = encodeAddress(e.account);
        balances.set(a, bal(a) + e.amount);
        legs.push({ ...base, account: a, direction: 'in', amount: e.amount, fee: 0n, counterparty: sender });
      }
    } else {
      balances.set(sender, bal(sender) - b.fee);
      if (b.kind === 'create-account') {
        const a = encodeAddress(b.account);
        legs.push({ ...base, account: sender, direction: 'fee', amount: 0n, fee: b.fee, counterparty: a });
        balances.set(a, bal(a));
        legs.push({ ...base, account: a, direction: 'created', amount: 0n, fee: 0n, counterparty: sender });
      } else if (b.kind === 'create-topic') {
        topics.set(b.topic, 0n);
        legs.push({ ...base, account: sender, direction: 'fee', amount: 0n, fee: b.fee, counterparty: '', topic: b.topic });
      } else {
        const seq = topics.get(b.topic) ?? view.nextSeq(b.topic);
        topics.set(b.topic, seq + 1n);
        legs.push({ ...base, account: sender, direction: 'fee', amount: 0n, fee: b.fee, counterparty: '', topic: b.topic, seq });
      }
    }
    const legOf = new Map<string, number>();
    const start = rows.length;
    for (const l of legs) {
      const leg = legOf.get(l.account) ?? 0;
      legOf.set(l.account, leg + 1);
      rows.push({ ...l, leg, balanceAfter: 0n });
    }
    // Every row of this transaction shows the balance after the whole transaction.
    for (let i = start; i < rows.length; i++) rows[i]!.balanceAfter = bal(rows[i]!.account);
  });
  return { height: block.height, hash: block.hash.toString('hex'), prevHash: block.prevHash.toString('hex'), timestampMs: block.timestampMs, rows, balances, topics };
}

/** Height 0: the genesis balances, one `in` row per funded account. */
export function genesisBlock(hash: string, timestampMs: number, accounts: readonly { account: Buffer; balance: bigint }[]): IndexedBlock {
  const balances = new Map<string, bigint>();
  const rows: HistoryRow[] = accounts.map((a, i) => {
    const account = encodeAddress(a.account);
    balances.set(account, a.balance);
    return { account, height: 0, txIndex: i, leg: 0, txId: 'genesis', kind: 'genesis', direction: 'in', amount: a.balance, fee: 0n, counterparty: '', balanceAfter: a.balance, topic: undefined, seq: undefined, timestampMs };
  });
  return { height: 0, hash, prevHash: '', timestampMs, rows, balances, topics: new Map() };
}

export const CSV_COLUMNS = ['cursor', 'height', 'tx_index', 'tx_id', 'kind', 'direction', 'amount', 'fee', 'counterparty', 'balance_after', 'topic', 'seq', 'timestamp_ms'] as const;

export interface StoredRow extends HistoryRow {
  /** Position in the store; pages continue after it. */
  cursor: string;
}

export function rowJson(r: StoredRow): Record<string, unknown> {
  return {
    cursor: r.cursor,
    height: r.height,
    txIndex: r.txIndex,
    txId: r.txId,
    kind: r.kind,
    direction: r.direction,
    amount: r.amount.toString(),
    fee: r.fee.toString(),
    counterparty: r.counterparty,
    balanceAfter: r.balanceAfter.toString(),
    ...(r.topic !== undefined ? { topic: r.topic } : {}),
    ...(r.seq !== undefined ? { seq: r.seq.toString() } : {}),
    timestampMs: r.timestampMs,
  };
}

const csvField = (v: string): string => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export function csvLine(r: StoredRow): string {
  const f = [r.cursor, String(r.height), String(r.txIndex), r.txId, r.kind, r.direction, r.amount.toString(), r.fee.toString(), r.counterparty, r.balanceAfter.toString(), r.topic ?? '', r.seq?.toString() ?? '', String(r.timestampMs)];
  return `${f.map(csvField).join(',')}\n`;
}
