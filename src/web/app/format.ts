/** Number, duration and time formatting (fixed en-US grouping so pages read the same everywhere). */

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export const DASH = '–';

function finite(n: number | null | undefined): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

/** 12,345 */
export function fmtInt(n: number | null | undefined): string {
  return finite(n) ? intFmt.format(n) : DASH;
}

/** Three significant digits, grouped: 0.812, 23.3, 181.4, 12,345. */
export function fmtNum(n: number | null | undefined, digits = 3): string {
  if (!finite(n)) return DASH;
  const a = Math.abs(n);
  if (a === 0) return '0';
  if (a >= 10 ** digits) return intFmt.format(n);
  const decimals = Math.min(4, Math.max(0, digits - 1 - Math.floor(Math.log10(a))));
  return n.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: decimals });
}

/** One decimal: 181.4 */
export function fmtRate(n: number | null | undefined): string {
  return finite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 }) : DASH;
}

/** Milliseconds, three significant digits, switching to seconds from 10 s: "23.3 ms", "1.24 s". */
export function fmtMs(ms: number | null | undefined): string {
  if (!finite(ms)) return DASH;
  if (Math.abs(ms) >= 10_000) return `${fmtNum(ms / 1000)} s`;
  return `${fmtNum(ms)} ms`;
}

/** Signed percentage: "+12.3%". */
export function fmtSignedPct(p: number | null | undefined): string {
  if (!finite(p)) return DASH;
  return `${p > 0 ? '+' : ''}${fmtNum(p, 3)}%`;
}

export function fmtSigned(n: number | null | undefined, f: (n: number) => string = fmtNum): string {
  if (!finite(n)) return DASH;
  return `${n > 0 ? '+' : ''}${f(n)}`;
}

/** 2.0 GiB */
export function fmtBytes(n: number | null | undefined): string {
  if (!finite(n)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${fmtNum(v)} ${units[i]}`;
}

/** Seconds as a clock: 0:42, 12:05, 1:02:03. */
export function fmtClock(sec: number): string {
  if (!Number.isFinite(sec)) return DASH;
  const neg = sec < 0;
  const s = Math.floor(Math.abs(sec));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const body = hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${String(ss).padStart(2, '0')}` : `${mm}:${String(ss).padStart(2, '0')}`;
  return neg ? `-${body}` : body;
}

/** Seconds in words: "51 s", "12 min 5 s", "2 h 3 min". */
export function fmtDuration(sec: number | null | undefined): string {
  if (!finite(sec)) return DASH;
  const s = Math.round(sec);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const m = Math.floor((s % 3600) / 60);
  return `${Math.floor(s / 3600)} h${m ? ` ${m} min` : ''}`;
}

/** ISO or epoch ms → "2026-11-21 21:12:44" (local time). */
export function fmtTime(t: string | number | null | undefined): string {
  if (t === null || t === undefined || t === '') return DASH;
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "3 s ago" */
export function fmtAgo(ms: number, now = Date.now()): string {
  const d = Math.max(0, Math.round((now - ms) / 1000));
  if (d < 60) return `${d} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  return `${Math.floor(d / 3600)} h ago`;
}

/** First 10 … last 6 of a long hex id. */
export function shortHex(s: string, head = 10, tail = 6): string {
  return s.length > head + tail + 1 ? `${s.slice(0, head)}…${s.slice(-tail)}` : s;
}

/** Percent of 2^64 for a u64 (decimal or 0x string), one decimal. Undefined when unparsable. */
export function pctOf2p64(v: string): number | undefined {
  try {
    const n = BigInt(v);
    const scaled = (n * 1_000_000n) / (1n << 64n); // 4 decimals of a percent
    return Number(scaled) / 10_000;
  } catch {
    return undefined;
  }
}
