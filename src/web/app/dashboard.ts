/**
 * The live dashboard: GET /api/live for the state so far, then the event stream
 * (/api/live/events) applied as it comes; charts redraw as seconds arrive. A second tab
 * holds the explorer (#/explorer, #/block/…, #/tx/…, #/account/…).
 */
import type { LiveData, LiveEvent, LiveStatus, SecondPoint } from '../contract.js';
import { getJson } from './api.js';
import { chart, type ChartHandle, type ChartSpec } from './charts.js';
import { badge, card, h, jsonDetails, note, panel, replace, setCard } from './dom.js';
import { mountExplorer, parseRoute } from './explorer.js';
import { faultMarks, faultsPanel, withFaults } from './faults.js';
import { fmtClock, fmtInt, fmtMs, fmtTime } from './format.js';
import { reconciliationView, summaryCards } from './report.js';
import { cumulativeSpec, errorsSpec, inFlightSpec, latencySpec, sendRateSpec, sortedSeconds, tpsSpec } from './runcharts.js';
import { beaconsTable, nodesTable, thresholdsTable } from './tables.js';

const RETRY_MS = 2000;
const TERMINAL: LiveStatus[] = ['finished', 'failed'];

export function renderDashboard(root: HTMLElement): void {
  let state: LiveData | undefined;
  const seconds = new Map<number, SecondPoint>();
  let es: EventSource | undefined;
  let drawTimer: ReturnType<typeof setTimeout> | undefined;
  let streamBroken = false;
  let closing = false;

  // ----- layout
  const title = h('h1', { id: 'live-name' }, 'tpslab');
  const runMeta = h('div', { class: 'meta muted', id: 'live-meta' }, 'connecting…');
  const tabRun = h('a', { href: '#/', class: 'tab', id: 'tab-run' }, 'Run');
  const tabExplorer = h('a', { href: '#/explorer', class: 'tab', id: 'tab-explorer' }, 'Explorer');
  const message = h('div', { class: 'alert', id: 'live-message', hidden: true });
  const errorBox = h('div', { class: 'alert', id: 'live-error', hidden: true });
  const summaryPanel = h('section', { class: 'panel summary-panel', id: 'live-summary', hidden: true });
  const beaconsPanel = panel('Beacons', { id: 'live-beacons' }, note('waiting for the beacons…'));
  const nodesPanel = panel('Nodes', { id: 'live-nodes' }, note('waiting for the nodes…'));
  const scenarioPanel = panel('Scenario', { id: 'live-scenario' }, note('—'));

  const cards = h('div', { class: 'cards live-cards' },
    card('status', '…', { id: 'live-status' }),
    card('elapsed', '–', { id: 'live-elapsed' }),
    card('committed', '0', { id: 'live-committed', raw: 0, cls: 'good' }),
    card('TPS (last second)', '–', { id: 'live-tps' }),
    card('p99 (last second)', '–', { id: 'live-p99', sub: 'from intended send' }),
    card('in flight', '–', { id: 'live-inflight' }),
    card('failed + lost', '0', { id: 'live-failed', raw: 0 }));

  const sync = 'live';
  const specs: ((pts: SecondPoint[]) => ChartSpec)[] = [
    (p) => sendRateSpec(p, sync), (p) => tpsSpec(p, sync), (p) => cumulativeSpec(p, sync),
    (p) => latencySpec(p, sync), (p) => inFlightSpec(p, sync), (p) => errorsSpec(p, sync),
  ];
  const charts: ChartHandle[] = specs.map((f) => chart({ ...f([]), emptyText: 'waiting for the first second…' }));

  const faultsHolder = h('div', { id: 'live-faults' });
  const runTab = h('div', { id: 'live-run' },
    message, errorBox, cards, summaryPanel,
    panel('Charts', { id: 'live-charts', class: 'charts-panel' }, h('div', { class: 'chart-grid' }, charts.map((c) => c.el))),
    faultsHolder,
    beaconsPanel, nodesPanel,
    scenarioPanel);
  const explorerTab = h('div', { id: 'live-explorer', hidden: true });
  root.append(
    h('header', { class: 'page-header' },
      h('div', { class: 'title-row' }, title, h('nav', { class: 'tabs' }, tabRun, tabExplorer)),
      runMeta),
    runTab, explorerTab);
  const explorer = mountExplorer(explorerTab, { embedded: true });

  function applyTab(): void {
    const hash = location.hash;
    const onExplorer = hash !== '' && hash !== '#' && hash !== '#/' && parseRoute(hash) !== undefined;
    runTab.hidden = onExplorer;
    explorerTab.hidden = !onExplorer;
    tabRun.classList.toggle('active', !onExplorer);
    tabExplorer.classList.toggle('active', onExplorer);
    explorer.setActive(onExplorer);
  }
  window.addEventListener('hashchange', applyTab);
  applyTab();

  // ----- drawing
  const points = () => sortedSeconds([...seconds.values()]);

  function showMessage(text: string | undefined): void {
    message.hidden = text === undefined;
    message.textContent = text ?? '';
  }

  function elapsedSec(): number | undefined {
    if (!state) return undefined;
    const pts = points();
    if (TERMINAL.includes(state.status)) return state.summary?.durationSec ?? (pts.length ? (pts[pts.length - 1]?.second ?? 0) + 1 : undefined);
    if (state.startMs === undefined) return undefined;
    return (Date.now() - state.startMs) / 1000;
  }

  function drawHeader(): void {
    if (!state) return;
    title.textContent = state.name || 'tpslab run';
    document.title = `tpslab · ${state.name} · ${state.status}`;
    replace(runMeta, h('span', null, 'run ', h('code', null, state.runId)),
      state.startMs !== undefined ? h('span', null, `started ${fmtTime(state.startMs)}`) : null,
      streamBroken && !TERMINAL.includes(state.status) ? h('span', { class: 'bad-text' }, 'live stream interrupted, reconnecting…') : null);
    const st = document.getElementById('live-status');
    if (st) {
      st.textContent = state.status;
      st.setAttribute('data-value', state.status);
      st.className = `card-value status-${state.status}`;
    }
    const el = elapsedSec();
    setCard('live-elapsed', el === undefined ? '–' : fmtClock(el), el === undefined ? undefined : Math.floor(el));
    errorBox.hidden = !state.error;
    errorBox.textContent = state.error ? `Run error: ${state.error}` : '';
  }

  function drawNumbers(pts: SecondPoint[]): void {
    const committed = pts.reduce((s, p) => s + p.committed, 0);
    const bad = pts.reduce((s, p) => s + p.failed + p.expired - p.late, 0); // failed + lost so far
    const last = pts[pts.length - 1];
    let p99: number | undefined;
    for (let i = pts.length - 1; i >= 0 && p99 === undefined; i--) {
      const c = pts[i]?.corrected;
      if (c && c.count > 0) p99 = c.p99Ms;
    }
    setCard('live-committed', fmtInt(committed), committed);
    setCard('live-failed', fmtInt(bad), bad);
    setCard('live-tps', last ? fmtInt(last.committed) : '–', last?.committed);
    setCard('live-p99', fmtMs(p99), p99);
    setCard('live-inflight', last ? fmtInt(last.inFlight) : '–', last?.inFlight);
  }

  function draw(): void {
    drawTimer = undefined;
    const pts = points();
    drawHeader();
    drawNumbers(pts);
    // A fault still on runs to now (or, once the run is over, to its end).
    const marks = faultMarks(state?.faults, Math.max(elapsedSec() ?? 0, pts.length ? (pts[pts.length - 1]?.second ?? 0) + 1 : 0));
    charts.forEach((c, i) => {
      const spec = specs[i]?.(pts);
      if (spec) c.update(withFaults({ ...spec, emptyText: pts.length ? spec.emptyText : 'waiting for the first second…' }, marks));
    });
  }

  function drawFaults(): void {
    const p = faultsPanel(state?.faults, { live: !state || !TERMINAL.includes(state.status) });
    if (p) replace(faultsHolder, p);
    else replace(faultsHolder);
  }

  function scheduleDraw(): void {
    if (drawTimer === undefined) drawTimer = setTimeout(draw, 50);
  }

  function drawTables(): void {
    if (!state) return;
    replace(beaconsPanel, h('h2', null, 'Beacons'), beaconsTable(state.beacons ?? [], true, { id: 'live-beacons-table' }));
    replace(nodesPanel, h('h2', null, 'Nodes'), nodesTable(state.nodes ?? [], { id: 'live-nodes-table' }));
  }

  function drawSummary(): void {
    if (!state || (!state.summary && state.status !== 'failed')) return;
    summaryPanel.hidden = false;
    replace(summaryPanel,
      h('div', { class: 'title-row' }, h('h2', null, 'Result'), state.summary ? badge(state.thresholds?.every((t) => t.passed) === false ? 'breached' : 'passed') : badge('failed')),
      state.reportPath ? h('p', { class: 'report-path' }, 'Report written to ', h('code', { id: 'live-report-path' }, state.reportPath)) : null,
      summaryCards(state.summary, { id: 'live-summary-cards' }),
      state.thresholds?.length ? h('div', { class: 'two-col' },
        h('div', null, h('h3', null, 'Thresholds'), thresholdsTable(state.thresholds, { id: 'live-thresholds' })),
        h('div', null, h('h3', null, 'Reconciliation'), reconciliationView(state.summary?.reconciliation))) : null);
  }

  function drawAll(): void {
    seconds.clear();
    for (const p of state?.seconds ?? []) seconds.set(p.second, p);
    replace(scenarioPanel, h('h2', null, 'Scenario'), jsonDetails('scenario (JSON)', state?.scenario));
    drawTables();
    drawSummary();
    drawFaults();
    draw();
  }

  // ----- data
  function apply(e: LiveEvent): void {
    if (!state) return;
    replay?.push(e);
    switch (e.type) {
      case 'status':
        state.status = e.status;
        if (e.startMs !== undefined) state.startMs = e.startMs;
        if (e.error !== undefined) state.error = e.error;
        if (TERMINAL.includes(e.status)) finishSoon();
        drawSummary();
        drawFaults();
        break;
      case 'second':
        seconds.set(e.point.second, e.point);
        break;
      case 'beacons':
        state.beacons = e.beacons;
        drawTables();
        break;
      case 'nodes':
        state.nodes = e.nodes;
        drawTables();
        break;
      case 'faults':
        state.faults = e.faults;
        drawFaults();
        break;
      case 'summary':
        state.summary = e.summary;
        state.thresholds = e.thresholds;
        if (e.reportPath) state.reportPath = e.reportPath;
        drawSummary();
        break;
    }
    scheduleDraw();
  }

  /**
   * Replaces the state with a fresh snapshot. Events that arrive while it is in flight are
   * applied again on top of it (they are idempotent), so nothing between the snapshot and the
   * stream is lost.
   */
  let replay: LiveEvent[] | undefined;
  async function resync(): Promise<void> {
    if (replay) return;
    replay = [];
    const r = await getJson<LiveData>('/api/live');
    const missed = replay;
    replay = undefined;
    if (r.ok && r.data) {
      state = r.data;
      drawAll();
      for (const e of missed) apply(e);
    }
  }

  /** After the run ended: pick up the final state (summary, report path) and stop listening. */
  function finishSoon(): void {
    if (closing) return;
    closing = true;
    setTimeout(() => {
      void resync().finally(() => {
        es?.close();
        es = undefined;
        streamBroken = false;
        scheduleDraw();
      });
    }, 1500);
  }

  function connect(): void {
    if (typeof EventSource === 'undefined') return showMessage('This browser cannot follow the live stream (no EventSource).');
    es = new EventSource('/api/live/events');
    es.onmessage = (ev: MessageEvent<string>) => {
      let e: LiveEvent;
      try {
        e = JSON.parse(ev.data) as LiveEvent;
      } catch {
        return; // not one of ours: ignore
      }
      apply(e);
    };
    // (Re)connected: take a snapshot now, so events sent before the stream opened are not missed.
    es.onopen = () => {
      streamBroken = false;
      void resync();
    };
    es.onerror = () => {
      if (closing || !es) return;
      streamBroken = true;
      scheduleDraw();
      if (es.readyState === EventSource.CLOSED) {
        es = undefined;
        setTimeout(connect, RETRY_MS);
      }
    };
  }

  async function load(): Promise<void> {
    const r = await getJson<LiveData>('/api/live');
    if (!r.ok) {
      showMessage(r.status === 404 ? 'No run is attached to this dashboard yet; waiting for one…' : `Cannot load the run: ${r.message}. Retrying…`);
      setTimeout(() => void load(), RETRY_MS);
      return;
    }
    showMessage(undefined);
    state = r.data;
    drawAll();
    if (TERMINAL.includes(state.status)) closing = true;
    else connect();
  }

  setInterval(() => {
    if (state && !TERMINAL.includes(state.status)) drawHeader();
  }, 1000);
  void load();
}
