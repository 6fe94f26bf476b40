/**
 * The explorer: latest blocks (refreshed every 2 s), block / transaction / account views and
 * the tracker's members, navigated with location.hash (#/block/12, #/tx/<id>, #/account/<addr>)
 * so every view is linkable. Stand-alone (data-page="explorer") or as the dashboard's second tab.
 */
import type { AccountDetail, BlockDetail, BlockSummary, ExplorerInfo, MembersView, TxDetail } from '../contract.js';
import { getJson } from './api.js';
import { h, note, panel, replace } from './dom.js';
import { accountView, blockLink, blockView, hrefAccount, hrefBlock, hrefTx, membersPanel, membersTable, txView } from './explorer-views.js';
import { DASH, fmtAgo, fmtInt, fmtTime, shortHex } from './format.js';

export type Route =
  | { view: 'home' }
  | { view: 'block'; height: number }
  | { view: 'tx'; id: string }
  | { view: 'account'; address: string };

const REFRESH_MS = 2000;
const BLOCKS_LIMIT = 20;

/** The explorer route of a location hash; undefined when the hash is not an explorer one. */
export function parseRoute(hash: string): Route | undefined {
  let path: string;
  try {
    path = decodeURIComponent(hash.replace(/^#/, ''));
  } catch {
    return { view: 'home' }; // a malformed link: show the latest blocks rather than nothing
  }
  if (path === '' || path === '/' || path === '/explorer' || path === '/blocks') return { view: 'home' };
  let m = /^\/block\/(\d{1,15})$/.exec(path);
  if (m) return { view: 'block', height: Number(m[1]) };
  m = /^\/tx\/([0-9a-fA-F]{64})$/.exec(path);
  if (m && m[1]) return { view: 'tx', id: m[1].toLowerCase() };
  m = /^\/account\/([^/]+)$/.exec(path);
  if (m && m[1]) return { view: 'account', address: m[1] };
  return undefined;
}

/** Where a search box entry leads: a tx id, an address or a block height. */
export function searchTarget(q: string): string | undefined {
  const v = q.trim();
  if (/^[0-9a-fA-F]{64}$/.test(v)) return hrefTx(v.toLowerCase());
  if (/^tps1[0-9a-z]+$/i.test(v)) return hrefAccount(v.toLowerCase());
  const n = v.replace(/^#/, '').replace(/[,_\s]/g, '');
  if (/^\d{1,15}$/.test(n)) return hrefBlock(Number(n));
  return undefined;
}

export interface ExplorerController {
  /** Dashboard tab shown/hidden: refreshing stops while hidden. */
  setActive(active: boolean): void;
}

export function mountExplorer(root: HTMLElement, opts: { embedded: boolean }): ExplorerController {
  const homeHref = opts.embedded ? '#/explorer' : '#/';
  let active = !opts.embedded;
  let route: Route = parseRoute(location.hash) ?? { view: 'home' };
  /** Bumped per view shown (stale answers are dropped) and per activation of the lists. */
  let token = 0;
  let lists = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  let info: ExplorerInfo | undefined;
  let membersState: 'unknown' | 'absent' | 'present' = 'unknown';
  let headHeight: number | undefined;

  const search = h('input', { id: 'explorer-search', type: 'search', placeholder: 'Transaction id (64 hex), address (tps1…) or block height', autocomplete: 'off', spellcheck: 'false', 'aria-label': 'search' });
  const message = h('div', { class: 'alert', id: 'explorer-message', hidden: true });
  const infoLine = h('div', { class: 'info-line', id: 'explorer-info' }, 'connecting…');
  const view = h('div', { id: 'explorer-view', hidden: true });
  const form = h('form', { class: 'search', id: 'explorer-search-form' }, search, h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const target = searchTarget(search.value);
    if (!target) return showMessage(`"${search.value.trim()}" is not a transaction id (64 hex characters), an address (tps1…) or a block height.`);
    showMessage(undefined);
    if (location.hash === target) void show(parseRoute(target) ?? { view: 'home' });
    else location.hash = target;
  });


  function showMessage(text: string | undefined): void {
    message.hidden = text === undefined;
    message.textContent = text ?? '';
  }

  function renderInfo(): void {
    if (!info) return;
    replace(infoLine,
      `network ${info.network}`,
      headHeight !== undefined ? [' · head ', blockLink(headHeight)] : null,
      ` · ${info.endpoints.length} endpoint${info.endpoints.length === 1 ? '' : 's'}`,
      info.tracker ? ` · tracker ${info.tracker}` : '');
  }

  async function loadInfo(): Promise<void> {
    const r = await getJson<ExplorerInfo>('/api/explorer/info');
    if (r.ok) {
      info = r.data;
      if (!info.tracker) membersState = 'absent';
      renderInfo();
    } else replace(infoLine, `explorer not available: ${r.message}`);
  }

  // ----- home: latest blocks + members
  const tbody = h('tbody');
  const blocksTable = h('table', { class: 'grid clickable', id: 'explorer-blocks' },
    h('thead', null, h('tr', null, h('th', { class: 'num' }, 'height'), h('th', null, 'hash'), h('th', null, 'time'), h('th', { class: 'num' }, 'age'), h('th', { class: 'num' }, 'txs'))),
    tbody);
  tbody.addEventListener('click', (e) => {
    const tr = (e.target as HTMLElement).closest('tr[data-height]');
    if (tr && !(e.target as HTMLElement).closest('a')) location.hash = hrefBlock(Number(tr.getAttribute('data-height')));
  });
  const blocksStatus = note('', 'note small');
  const blocksPanel = panel('Latest blocks', { id: 'explorer-blocks-panel' }, h('div', { class: 'table-wrap' }, blocksTable), blocksStatus);
  const members = membersPanel();

  root.append(h('div', { class: 'explorer', id: 'explorer' },
    h('div', { class: 'explorer-bar' }, h('a', { href: homeHref, class: 'home-link' }, 'Latest blocks'), form),
    infoLine, message, view,
    h('div', { class: 'explorer-lists' }, blocksPanel, members)));

  async function refreshBlocks(my: number): Promise<void> {
    const r = await getJson<BlockSummary[]>(`/api/explorer/blocks?limit=${BLOCKS_LIMIT}`);
    if (my !== lists) return;
    if (!r.ok) {
      blocksStatus.textContent = `could not load blocks: ${r.message}`;
      blocksStatus.className = 'note small bad-text';
      return;
    }
    const blocks = Array.isArray(r.data) ? r.data : [];
    headHeight = blocks[0]?.height ?? headHeight;
    renderInfo();
    replace(tbody, blocks.length === 0
      ? h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'no blocks yet'))
      : blocks.map((b) => h('tr', { 'data-height': b.height },
        h('td', { class: 'num' }, h('a', { href: hrefBlock(b.height) }, fmtInt(b.height))),
        h('td', null, h('code', { title: b.hash }, shortHex(b.hash, 12, 6))),
        h('td', { class: 'nowrap', title: fmtTime(b.timestampMs) }, fmtTime(b.timestampMs).slice(11)),
        h('td', { class: 'num' }, fmtAgo(b.timestampMs)),
        h('td', { class: 'num' }, fmtInt(b.txCount)))));
    blocksStatus.className = 'note small';
    blocksStatus.textContent = `updated ${fmtTime(Date.now())}, every ${REFRESH_MS / 1000} s`;
  }

  async function refreshMembers(my: number): Promise<void> {
    // Until the network is up (a run still preparing), info is missing: keep asking.
    if (!info) await loadInfo();
    if (!info || membersState === 'absent') {
      members.hidden = true;
      return;
    }
    const r = await getJson<MembersView>('/api/explorer/members');
    if (my !== lists) return;
    if (!r.ok && r.status === 404 && !info.tracker) {
      membersState = 'absent';
      members.hidden = true;
      return;
    }
    members.hidden = false;
    replace(members, h('h2', null, 'Members'), r.ok ? membersTable(r.data) : note(`could not load members: ${r.message}`, 'note bad-text'));
    if (r.ok) membersState = 'present';
  }

  function refreshLists(): void {
    const my = lists;
    void refreshBlocks(my);
    void refreshMembers(my);
  }

  function stopTimer(): void {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  }

  function syncTimer(): void {
    stopTimer();
    if (active) timer = setInterval(refreshLists, REFRESH_MS);
  }

  // ----- detail views
  async function detail<T>(url: string, what: string, render: (d: T) => HTMLElement): Promise<void> {
    const my = token;
    view.hidden = false;
    replace(view, note(`loading ${what}…`));
    const r = await getJson<T>(url);
    if (my !== token) return;
    if (r.ok) replace(view, render(r.data));
    else replace(view, h('section', { class: 'panel', id: 'explorer-error' }, h('h2', null, `Cannot show ${what}`), h('p', { class: 'bad-text' }, r.status === 404 ? `${what} not found (${r.message})` : r.message)));
  }

  async function show(next: Route): Promise<void> {
    route = next;
    token++;
    if (!active) return;
    switch (route.view) {
      case 'home':
        replace(view);
        view.hidden = true;
        return;
      case 'block':
        return detail<BlockDetail>(`/api/explorer/blocks/${route.height}`, `block ${route.height}`, blockView);
      case 'tx':
        search.value = route.id;
        return detail<TxDetail>(`/api/explorer/tx/${route.id}`, `transaction ${shortHex(route.id)}`, txView);
      case 'account':
        search.value = route.address;
        return detail<AccountDetail>(`/api/explorer/accounts/${encodeURIComponent(route.address)}`, `account ${route.address}`, accountView);
    }
  }

  /** Starts (or stops) the 2 s refresh of the latest blocks and the members. */
  function activateLists(on: boolean): void {
    lists++;
    stopTimer();
    if (!on) return;
    refreshLists();
    syncTimer();
  }

  window.addEventListener('hashchange', () => {
    const r = parseRoute(location.hash);
    if (r) {
      showMessage(undefined);
      void show(r);
    } else if (!opts.embedded) showMessage(`Unknown location ${location.hash || DASH}: use a block height, a transaction id or an address.`);
  });

  let started = false;
  function start(): void {
    if (started) return;
    started = true;
    void loadInfo().then(() => {
      if (!active) return;
      activateLists(true);
      void show(route);
    });
  }
  if (active) start();

  return {
    setActive(a: boolean): void {
      if (a === active) return;
      active = a;
      if (!a) return activateLists(false);
      if (!started) return start();
      activateLists(true);
      void show(parseRoute(location.hash) ?? route);
    },
  };
}
