/**
 * The overseer's end of reconciliation: reads what the network committed through
 * the connector into a commit store (on disk), then reconciles by digest with the
 * finished beacons, asking them questions through the fleet. A connector without
 * `visitCommitted` gets the old exchange: every beacon ships its ids once.
 */
import type { Clock } from '../clock.js';
import type { Cursor, Log, TargetConnector } from '../connectors/contract.js';
import { TpslabError } from '../errors.js';
import type { Reconciliation } from '../web/contract.js';
import { CommitStore } from './commit-store.js';
import type { Fleet } from './fleet.js';
import { PROTOCOL_VERSION, type DigestAnswer, type DoneMessage } from './messages.js';
import { reconcileByDigest, type AskedRange, type Cell } from './reconcile-digest.js';
import { reconcile } from './reconcile.js';

const ANSWER_TIMEOUT_MS = 60_000;

/** Numbered questions to beacons and their answers (which arrive as fleet messages). */
export class DigestQueries {
  private next = 0;
  private readonly waiting = new Map<number, { resolve(m: DigestAnswer): void; reject(e: Error): void; timer: unknown }>();
  /** Bytes of every answer (as JSON), per beacon: what reconciliation shipped. */
  readonly answerBytes = new Map<number, number>();

  constructor(
    private readonly fleet: Pick<Fleet, 'send'>,
    private readonly clock: Clock,
  ) {}

  ask(beacon: number, ranges: AskedRange[]): Promise<Cell[]> {
    const query = this.next++;
    return new Promise<Cell[]>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.waiting.delete(query);
        reject(new TpslabError('TPSLAB_E_BEACON', `beacon ${beacon} did not answer a reconciliation question within ${ANSWER_TIMEOUT_MS / 1000} s; the run is not reconciled`));
      }, ANSWER_TIMEOUT_MS);
      this.waiting.set(query, {
        timer,
        reject,
        resolve: (m) => {
          if (m.cells.length !== ranges.length) return reject(new TpslabError('TPSLAB_E_BEACON', `beacon ${beacon} answered ${m.cells.length} digests for ${ranges.length} ranges`));
          resolve(m.cells);
        },
      });
      this.fleet.send(beacon, { v: PROTOCOL_VERSION, type: 'digest-query', query, ranges });
    });
  }

  /** A beacon failed or exited: no question waits for its timeout. */
  fail(e: Error): void {
    for (const [query, w] of this.waiting) {
      this.waiting.delete(query);
      this.clock.clearTimeout(w.timer);
      w.reject(e);
    }
  }

  onAnswer(m: DigestAnswer): void {
    const w = this.waiting.get(m.query);
    if (!w) return;
    this.waiting.delete(m.query);
    this.clock.clearTimeout(w.timer);
    this.answerBytes.set(m.beacon, (this.answerBytes.get(m.beacon) ?? 0) + Buffer.byteLength(JSON.stringify(m)));
    w.resolve(m);
  }
}

export interface ReconcileRunOptions {
  target: TargetConnector;
  start: Cursor;
  done: readonly DoneMessage[];
  queries: DigestQueries;
  /** Senders are numbered [0, senderSpace). */
  senderSpace: number;
  log: Log;
}

export async function reconcileRun(o: ReconcileRunOptions): Promise<{ reconciliation: Reconciliation; notes?: string[] }> {
  const beacons = o.done.map((d) => ({ beacon: d.beacon, total: d.committedDigest, ask: (ranges: AskedRange[]) => o.queries.ask(d.beacon, ranges) }));
  if (!o.target.visitCommitted) {
    const committed = await o.target.committed(o.start);
    const everything: AskedRange = { senderFrom: 0, senderTo: o.senderSpace, heightFrom: Number.MIN_SAFE_INTEGER, heightTo: Number.MAX_SAFE_INTEGER, ids: true };
    const ids = new Set<string>();
    for (const b of beacons) for (const id of (await b.ask([everything]))[0]?.ids ?? []) ids.add(id);
    return { reconciliation: reconcile(committed, ids), ...(committed.notes ? { notes: committed.notes } : {}) };
  }
  const network = new CommitStore('tpslab-network-');
  try {
    const r = await o.target.visitCommitted(o.start, (id, position, sender) => network.add(id, sender, position));
    const space = { senderFrom: 0, senderTo: o.senderSpace, heightFrom: r.fromPosition + 1, heightTo: r.toPosition + 1 };
    const { reconciliation, stats } = await reconcileByDigest(network, beacons, space);
    o.log(stats.rounds === 0 ? `reconciled by digest: ${reconciliation.matched} ids, equal digests, no question asked` : `reconciled by digest and bisection: ${stats.rounds} rounds, ${stats.messages} questions to beacons, ${stats.rangesAsked} ranges asked, ${stats.idsShipped} ids shipped`);
    return { reconciliation: { fromHeight: r.fromPosition, toHeight: r.toPosition, ...reconciliation }, ...(r.notes ? { notes: r.notes } : {}) };
  } finally {
    network.close();
  }
}
