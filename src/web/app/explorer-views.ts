/** The explorer's detail views: one block, one transaction, one account; and the members table. */
import type { AccountDetail, BlockDetail, MembersView, TxDetail } from '../contract.js';
import { badge, h, jsonDetails, kv, note, panel, type Child } from './dom.js';
import { DASH, fmtAgo, fmtInt, fmtTime, pctOf2p64, shortHex } from './format.js';
import { healthBadge, table } from './tables.js';


export const hrefBlock = (height: number) => `#/block/${height}`;
export const hrefTx = (id: string) => `#/tx/${id}`;
export const hrefAccount = (address: string) => `#/account/${address}`;

export function blockLink(height: number | undefined): Child {
  return height === undefined ? DASH : h('a', { href: hrefBlock(height) }, `#${fmtInt(height)}`);
}
export function txLink(id: string | undefined, full = false): Child {
  return id ? h('a', { href: hrefTx(id), class: 'mono', title: id }, full ? id : shortHex(id)) : DASH;
}
export function accountLink(address: string | undefined, full = false): Child {
  return address ? h('a', { href: hrefAccount(address), class: 'mono', title: address }, full ? address : shortHex(address, 10, 6)) : DASH;
}

const s = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const entries = (v: unknown): { account?: string; amount?: string }[] => (Array.isArray(v) ? (v as { account?: string; amount?: string }[]) : []);

function sum(amounts: (string | undefined)[]): string | undefined {
  try {
    let t = 0n;
    for (const a of amounts) if (a !== undefined) t += BigInt(a);
    return t.toString();
  } catch {
    return undefined;
  }
}

function accounts(list: (string | undefined)[]): Child[] {
  const out: Child[] = [];
  list.filter((a): a is string => !!a).forEach((a, i) => out.push(i ? ', ' : null, accountLink(a)));
  return out.length ? out : [DASH];
}

/** from / to / amount of a transaction's JSON form, by kind. */
export function txParts(tx: Record<string, unknown>): { from: Child[]; to: Child[]; amount: string } {
  const kind = s(tx.kind);
  if (kind === 'transfer') {
    const outs = entries(tx.outputs);
    return { from: accounts(entries(tx.inputs).map((e) => e.account)), to: accounts(outs.map((e) => e.account)), amount: sum(outs.map((e) => e.amount)) ?? DASH };
  }
  const from = accounts([s(tx.from)]);
  if (kind === 'create-account') return { from, to: accounts([s(tx.account)]), amount: DASH };
  if (kind === 'message' || kind === 'create-topic') return { from, to: [`topic ${s(tx.topic) ?? '?'}`], amount: DASH };
  return { from, to: [DASH], amount: DASH };
}

export function blockView(b: BlockDetail): HTMLElement {
  const txs = Array.isArray(b.txs) ? b.txs : [];
  return h('section', { class: 'panel', id: 'explorer-block', 'data-height': b.height },
    h('div', { class: 'title-row' },
      h('h2', null, `Block #${fmtInt(b.height)}`),
      h('span', { class: 'nav-links' },
        b.height > 0 ? h('a', { href: hrefBlock(b.height - 1) }, '← previous') : null,
        h('a', { href: hrefBlock(b.height + 1) }, 'next →'))),
    kv([
      ['height', fmtInt(b.height)],
      ['hash', h('code', null, b.hash)],
      ['previous', b.height > 0 ? h('a', { href: hrefBlock(b.height - 1), class: 'mono' }, b.prevHash) : h('code', null, b.prevHash)],
      ['time', `${fmtTime(b.timestampMs)} (${fmtAgo(b.timestampMs)})`],
      ['state hash', h('code', null, b.stateHash)],
      ['transactions', fmtInt(b.txCount ?? txs.length)],
    ]),
    h('h3', null, 'Transactions'),
    table<Record<string, unknown>>([
      { title: '#', cell: (_t, i) => String(i), num: true },
      { title: 'id', cell: (t) => txLink(s(t.id)) },
      { title: 'kind', cell: (t) => s(t.kind) ?? DASH },
      { title: 'from', cell: (t) => txParts(t).from },
      { title: 'to', cell: (t) => txParts(t).to },
      { title: 'amount', cell: (t) => txParts(t).amount, num: true },
      { title: 'nonce', cell: (t) => s(t.nonce) ?? DASH, num: true },
      { title: 'fee', cell: (t) => s(t.fee) ?? DASH, num: true },
    ], txs, { id: 'explorer-block-txs' }, 'no transactions in this block'));
}

export function txView(t: TxDetail): HTMLElement {
  const parts = t.tx ? txParts(t.tx) : undefined;
  const statusNote: Record<TxDetail['status'], string> = {
    committed: 'In a durable block.',
    pending: 'Accepted by the node, not committed yet.',
    failed: 'Accepted, then failed or expired.',
    unknown: 'The node does not know this id: never accepted, or the record of its failure was evicted.',
  };
  return h('section', { class: 'panel', id: 'explorer-tx', 'data-status': t.status },
    h('div', { class: 'title-row' }, h('h2', null, 'Transaction'), badge(t.status, 'explorer-tx-status')),
    note(statusNote[t.status] ?? '', 'note small'),
    kv([
      ['id', h('code', null, t.id)],
      ['status', t.status],
      ['block', blockLink(t.height)],
      ['index', t.index === undefined ? DASH : String(t.index)],
      ...(t.tx ? ([['kind', s(t.tx.kind) ?? DASH], ['from', parts?.from ?? DASH], ['to', parts?.to ?? DASH], ['amount', parts?.amount ?? DASH], ['nonce', s(t.tx.nonce) ?? DASH], ['fee', s(t.tx.fee) ?? DASH]] as [string, Child | Child[]][]) : []),
      ...(t.error ? ([['error', [h('code', null, t.error.code), ' ', t.error.message]]] as [string, Child | Child[]][]) : []),
    ]),
    t.tx ? jsonDetails('JSON form', t.tx, true) : null);
}

export function accountView(a: AccountDetail): HTMLElement {
  const recent = Array.isArray(a.recent) ? a.recent : [];
  return h('section', { class: 'panel', id: 'explorer-account', 'data-address': a.address },
    h('div', { class: 'title-row' }, h('h2', null, 'Account'), a.exists ? null : badge('unknown')),
    kv([
      ['address', h('code', null, a.address)],
      ['exists', a.exists ? 'yes' : 'no'],
      ['balance', h('span', { id: 'explorer-account-balance', class: 'mono' }, a.balance)],
      ['next nonce', h('span', { id: 'explorer-account-nonce', class: 'mono' }, a.nonce)],
    ]),
    h('h3', null, 'Recent transactions'),
    table<AccountDetail['recent'][number]>([
      { title: 'id', cell: (r) => txLink(r.id) },
      { title: 'block', cell: (r) => blockLink(r.height) },
      { title: 'kind', cell: (r) => r.kind },
      { title: 'direction', cell: (r) => h('span', { class: `dir dir-${r.direction}` }, r.direction) },
      { title: 'amount', cell: (r) => r.amount ?? DASH, num: true },
    ], recent, { id: 'explorer-account-recent' }, 'none in the blocks scanned'),
    note(`Scanned the ${fmtInt(a.scannedBlocks)} most recent blocks.`, 'note small'));
}

function rangesText(ranges: { start: string; end: string }[] | undefined): string {
  if (!ranges || ranges.length === 0) return DASH;
  return ranges.map((r) => {
    const a = pctOf2p64(r.start);
    const b = pctOf2p64(r.end);
    return a === undefined || b === undefined ? `${r.start}–${r.end}` : `${a.toFixed(1)}–${b.toFixed(1)}%`;
  }).join(', ');
}

export function membersTable(v: MembersView): HTMLElement {
  const members = Array.isArray(v.members) ? v.members : [];
  return h('div', null,
    table<MembersView['members'][number]>([
      { title: 'id', cell: (m) => m.id },
      { title: 'role', cell: (m) => m.role },
      { title: 'url', cell: (m) => h('code', null, m.url) },
      { title: 'height', cell: (m) => fmtInt(m.height), num: true },
      { title: 'health', cell: (m) => healthBadge(m.healthy) },
      { title: 'last seen', cell: (m) => (typeof m.lastSeenMs === 'number' ? fmtAgo(m.lastSeenMs) : DASH), num: true },
      { title: 'shards', cell: (m) => h('span', { class: 'mono' }, rangesText(m.ranges)), cls: 'nowrap' },
    ], members, { id: 'explorer-members-table' }, 'no members'),
    note(`view version ${fmtInt(v.version)} · heartbeat every ${fmtInt(v.heartbeatIntervalMs)} ms · overlap ${v.overlap}`, 'note small'));
}

export function membersPanel(): HTMLElement {
  return panel('Members', { id: 'explorer-members', hidden: true }, note('loading…'));
}
