/**
 * Keeps a process in the tracker's view: heartbeats at the interval the
 * tracker hands out (re-registering after a removal happens by itself, since
 * a heartbeat from an unknown member re-adds it), and leaves on stop.
 */
import { Agent, request } from 'undici';
import { systemClock, type Clock } from '../clock.js';

/**
 * One keep-alive connection per tracker for the heartbeats: fetch() set up its stream machinery (and,
 * without keep-alive across beats, a connection) for every beat, in every process, every second.
 */
const dispatcher = new Agent({ keepAliveTimeout: 30_000 });

export interface TrackerMembership {
  stop(): Promise<void>;
}

export function joinTracker(opts: {
  trackerUrl: string;
  id: string;
  role: string;
  url: string;
  info?: () => { height?: number; healthy?: boolean };
  /** Heartbeat timers (tests drive them). */
  clock?: Clock;
}): TrackerMembership {
  const clock = opts.clock ?? systemClock;
  const base = opts.trackerUrl.replace(/\/+$/, '');
  let intervalMs = 1000;
  let stopped = false;
  let timer: unknown;
  const beat = async (): Promise<void> => {
    try {
      const res = await request(`${base}/v1/members/heartbeat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: opts.id, role: opts.role, url: opts.url, ...(opts.info?.() ?? {}) }),
        signal: AbortSignal.timeout(Math.max(500, intervalMs)),
        dispatcher,
      });
      const body = (await res.body.json()) as { heartbeatIntervalMs?: number };
      if (typeof body.heartbeatIntervalMs === 'number' && body.heartbeatIntervalMs > 0) intervalMs = body.heartbeatIntervalMs;
    } catch {
      // Tracker unreachable: keep trying at the last known interval.
    }
    if (!stopped) timer = clock.setTimeout(() => void beat(), intervalMs);
  };
  void beat();
  return {
    async stop() {
      stopped = true;
      clock.clearTimeout(timer);
      try {
        await fetch(`${base}/v1/members/${encodeURIComponent(opts.id)}`, { method: 'DELETE', signal: AbortSignal.timeout(1000) });
      } catch {
        // best effort
      }
    },
  };
}
