/** JSON GETs against the serving process (same origin). Never throws. */

export type ApiResult<T> = { ok: true; data: T } | { ok: false; status: number; code?: string; message: string };

export async function getJson<T>(url: string, timeoutMs = 8000): Promise<ApiResult<T>> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch(url, { headers: { accept: 'application/json' }, signal: ctl.signal, cache: 'no-store' });
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    if (res.ok) return { ok: true, data: body as T };
    const err = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    return { ok: false, status: res.status, code: err?.code, message: err?.message ?? `HTTP ${res.status}` };
  } catch (e) {
    const aborted = e instanceof DOMException && e.name === 'AbortError';
    return { ok: false, status: 0, message: aborted ? `no answer from ${url} within ${timeoutMs / 1000} s` : `cannot reach the server (${e instanceof Error ? e.message : String(e)})` };
  } finally {
    clearTimeout(timer);
  }
}
