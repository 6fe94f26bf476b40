/**
 * Entry point of the browser app: `<div id="app" data-page="…">` picks the page; report and
 * compare pages read their data from `<script id="tpslab-data" type="application/json">`.
 */
import type { CompareData, ReportData } from '../contract.js';
import { renderCompare } from './compare.js';
import { renderDashboard } from './dashboard.js';
import type { ExperimentData } from '../experiment-contract.js';
import { renderExperiment } from './experiment.js';
import { h } from './dom.js';
import { mountExplorer } from './explorer.js';
import { renderReport } from './report.js';

function pageData<T>(kind: string): T | undefined {
  const el = document.getElementById('tpslab-data');
  if (!el?.textContent) return undefined;
  const data = JSON.parse(el.textContent) as { kind?: unknown };
  if (data?.kind !== kind) throw new Error(`the page data is "${String(data?.kind)}", expected "${kind}"`);
  return data as T;
}

function fail(root: HTMLElement, text: string): void {
  root.replaceChildren(h('div', { class: 'alert', id: 'app-error' }, text));
}

/** A built-in icon, so the browser does not ask the server for /favicon.ico. */
function ensureIcon(): void {
  if (document.querySelector('link[rel~="icon"]')) return;
  const svg = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'><rect width='16' height='16' rx='3' fill='%232563eb'/><path d='M3 12l3-4 3 2 4-6' stroke='white' stroke-width='1.8' fill='none'/></svg>";
  document.head.append(h('link', { rel: 'icon', href: `data:image/svg+xml,${svg}` }));
}

function start(): void {
  ensureIcon();
  const root = document.getElementById('app');
  if (!root) return;
  const page = root.dataset.page ?? '';
  root.classList.add('tpslab', `page-${page}`);
  try {
    switch (page) {
      case 'report': {
        const d = pageData<ReportData>('report');
        if (!d) return fail(root, 'This report has no data (script element tpslab-data is missing or empty).');
        document.title ||= `tpslab report · ${d.run.name}`;
        return renderReport(root, d);
      }
      case 'compare': {
        const d = pageData<CompareData>('compare');
        if (!d) return fail(root, 'This comparison has no data (script element tpslab-data is missing or empty).');
        return renderCompare(root, d);
      }
      case 'dashboard':
        return renderDashboard(root);
      case 'experiment': {
        const d = pageData<ExperimentData>('experiment');
        if (!d) return fail(root, 'This experiment report has no data (script element tpslab-data is missing or empty).');
        return renderExperiment(root, d);
      }
      case 'explorer':
        root.append(h('header', { class: 'page-header' }, h('div', { class: 'title-row' }, h('h1', null, 'tpslab explorer'))));
        mountExplorer(root, { embedded: false });
        return;
      default:
        return fail(root, `Unknown page "${page}": expected dashboard, explorer, report or compare.`);
    }
  } catch (e) {
    fail(root, `This page could not be drawn: ${e instanceof Error ? e.message : String(e)}`);
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
