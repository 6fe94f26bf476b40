/**
 * Live heap of every role of a running network, from its Prometheus `/metrics` (prom-client's default
 * `nodejs_heap_size_used_bytes` and `nodejs_external_memory_bytes`): next to RSS it tells a leak (the
 * heap grows) from allocator or V8 slack (RSS grows, the heap does not). Without a forced collection
 * a sample includes garbage, so the slope is read over the lower envelope (each window's minimum).
 */
import { readNetworkFile } from '../../src/ledger/net.js';
import type { RssSample } from '../../test/testkit/proc-rss.js';

export interface HeapSeries {
  heap: RssSample[];
  external: RssSample[];
  /** V8's committed heap (`nodejs_heap_size_total_bytes`): what the heap holds of RSS, garbage and free space included. */
  total: RssSample[];
}

function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

export class HeapSampler {
  readonly series = new Map<string, HeapSeries>();
  private readonly began = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly netDir: string) {}

  start(everyMs: number): this {
    this.timer = setInterval(() => void this.sample(), everyMs);
    return this;
  }

  stop(): Map<string, HeapSeries> {
    clearInterval(this.timer);
    return this.series;
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const net = await readNetworkFile(this.netDir).catch(() => undefined);
      if (!net) return;
      await Promise.all([net.tracker, net.sequencer, ...net.nodes].map(async (r) => {
        const text = await fetch(`${r.url}/metrics`, { signal: AbortSignal.timeout(2000) }).then((res) => res.text(), () => undefined);
        const heap = text === undefined ? undefined : gauge(text, 'nodejs_heap_size_used_bytes');
        if (heap === undefined) return;
        const tMs = performance.now() - this.began;
        let s = this.series.get(r.id);
        if (!s) this.series.set(r.id, (s = { heap: [], external: [], total: [] }));
        s.heap.push({ tMs, rssBytes: heap });
        s.external.push({ tMs, rssBytes: gauge(text!, 'nodejs_external_memory_bytes') ?? 0 });
        s.total.push({ tMs, rssBytes: gauge(text!, 'nodejs_heap_size_total_bytes') ?? 0 });
      }));
    } finally {
      this.busy = false;
    }
  }
}

/** Each window's minimum (the heap right after a collection, near enough): what a slope of live heap is read over. */
export function lowerEnvelope(samples: readonly RssSample[], windowMs: number): RssSample[] {
  const out: RssSample[] = [];
  for (let i = 0; i < samples.length;) {
    const end = samples[i]!.tMs + windowMs;
    let min = samples[i]!;
    for (; i < samples.length && samples[i]!.tMs < end; i++) if (samples[i]!.rssBytes < min.rssBytes) min = samples[i]!;
    out.push(min);
  }
  return out;
}
