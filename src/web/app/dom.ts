/** Tiny DOM helpers: no framework, just typed element construction. */

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** Creates an element: attributes (`on*` functions become listeners; `class`, `id`, data-* …) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs | null = null, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/** Replaces all children of `el`. */
export function replace(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A titled panel (section with an h2). */
export function panel(title: string, attrs: Attrs | null, ...children: (Child | Child[])[]): HTMLElement {
  const cls = attrs && typeof attrs.class === 'string' ? `panel ${attrs.class}` : 'panel';
  return h('section', { ...attrs, class: cls }, h('h2', null, title), ...children);
}

export function note(text: string, cls = 'note'): HTMLElement {
  return h('p', { class: cls }, text);
}

/** Status badge: passed/breached/failed/running … */
export function badge(status: string, id?: string): HTMLElement {
  return h('span', { class: `badge badge-${status.replace(/[^a-z]/gi, '').toLowerCase()}`, id }, status);
}

/** A big-number card. */
export function card(label: string, value: string, opts: { id?: string; raw?: number | string; sub?: string; cls?: string } = {}): HTMLElement {
  return h('div', { class: `card ${opts.cls ?? ''}`.trim() },
    h('div', { class: 'card-label' }, label),
    h('div', { class: 'card-value', id: opts.id, 'data-value': opts.raw }, value),
    opts.sub ? h('div', { class: 'card-sub' }, opts.sub) : null);
}

/** Sets a card's value (by id) and its raw `data-value`. */
export function setCard(id: string, text: string, raw?: number | string): void {
  const el = document.getElementById(id);
  if (!el) return;
  el.textContent = text;
  if (raw === undefined) el.removeAttribute('data-value');
  else el.setAttribute('data-value', String(raw));
}

/** Pretty JSON in a <details>. */
export function jsonDetails(summary: string, value: unknown, open = false): HTMLElement {
  return h('details', { class: 'json', open },
    h('summary', null, summary),
    h('pre', null, JSON.stringify(value, null, 2) ?? 'undefined'));
}

/** Key/value definition list. */
export function kv(rows: [string, Child | Child[]][], attrs: Attrs | null = null): HTMLElement {
  const dl = h('dl', { class: 'kv', ...attrs });
  for (const [k, v] of rows) dl.append(h('dt', null, k), h('dd', null, v));
  return dl;
}
