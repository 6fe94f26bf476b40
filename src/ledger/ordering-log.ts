/**
 * The replicated ordering log: one NATS JetStream stream per network (file storage, R3 on a cluster of
 * three), holding every block in height order, plus a key-value bucket for the leader's lease.
 *
 * Every message carries `Tpslab-Kind` (`block` or `marker`) and `Tpslab-Height` (the block's height;
 * for a marker, the height of the last block before it). A leader appends with the stream's expected
 * last sequence (header Nats-Expected-Last-Sequence), so an append from anyone whose view of the stream
 * is stale is refused; a new leader's first append is a marker, which fences out the previous one.
 * Message ids (`<term>:<sequencer id>:<height>`, `...:marker`) make a retried append idempotent within the
 * duplicate window, and a retry that finds its own entry past the expected sequence counts it as appended.
 */
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, JetStreamApiError, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { TpslabError } from '../errors.js';
import type { Genesis } from './genesis.js';

export const KIND_HEADER = 'Tpslab-Kind';
export const HEIGHT_HEADER = 'Tpslab-Height';
/** The header a message id travels in (JetStream keeps it with the message). */
const MSG_ID_HEADER = 'Nats-Msg-Id';
/** JetStream's error code for a failed Nats-Expected-Last-Sequence check. */
const WRONG_LAST_SEQUENCE = 10071;

export interface LogEntry {
  seq: number;
  kind: 'block' | 'marker';
  height: number;
  data: Uint8Array;
}

/** An append the stream refused because its last sequence was not the one expected: someone else appended. */
export class FencedError extends Error {
  override readonly name = 'FencedError';
}

export interface OrderingLogOptions {
  /** Stream and bucket replicas: 3 on a three-server cluster, 1 on a single server. */
  replicas: number;
  /** How long one append or lease request may take. */
  requestTimeoutMs: number;
}

export class OrderingLog {
  readonly stream: string;
  readonly subject: string;
  private constructor(
    readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly kv: KV,
    tag: string,
    private readonly opts: OrderingLogOptions,
  ) {
    this.stream = `TPSLAB_${tag}`;
    this.subject = `tpslab.${tag}.log`;
  }

  /** Binds (creating if missing) the stream and the lease bucket of the network `genesis` starts. */
  static async open(nc: NatsConnection, genesis: Genesis, opts: OrderingLogOptions): Promise<OrderingLog> {
    const tag = genesis.hash.toString('hex').slice(0, 16);
    const jsm = await jetstreamManager(nc, { timeout: opts.requestTimeoutMs });
    const js = jetstream(nc, { timeout: opts.requestTimeoutMs });
    const log = new OrderingLog(nc, js, jsm, undefined as unknown as KV, tag, opts);
    const maxBytes = nc.info?.max_payload ?? 1 << 20;
    try {
      await jsm.streams.info(log.stream);
    } catch {
      try {
        await jsm.streams.add({
          name: log.stream,
          subjects: [log.subject],
          num_replicas: opts.replicas,
          max_msg_size: maxBytes,
          duplicate_window: 120_000_000_000,
          description: `tpslab blocks of network ${genesis.network} (genesis ${genesis.hash.toString('hex')})`,
        });
      } catch (err) {
        // Another sequencer created it meanwhile: fine; anything else is not.
        await jsm.streams.info(log.stream).catch(() => {
          throw new TpslabError('TPSLAB_E_NATS', `cannot create the JetStream stream ${log.stream}: ${(err as Error).message}; is JetStream enabled (nats-server -js) and, for ${opts.replicas} replicas, are there ${opts.replicas} servers in the cluster?`, { cause: err });
        });
      }
    }
    // allow_direct off: a direct get may be answered by any replica, and one that diverged after a
    // server restart (seen with nats-server 2.9.10) kept showing a revision the stream leader did not
    // have, so every compare-and-set on the lease failed and no follower ever took over. Reads go
    // through the stream leader, consistent with the compare-and-set.
    const kv = await new Kvm(js).create(`tpslab-lease-${tag}`, { replicas: opts.replicas, history: 1, timeout: opts.requestTimeoutMs, allow_direct: false });
    (log as { kv: KV }).kv = kv;
    // One network per stream: the first sequencer records the genesis, the others compare.
    const hex = genesis.hash.toString('hex');
    try {
      await kv.create('genesis', hex);
    } catch {
      const e = await kv.get('genesis');
      if (e && e.string() !== hex) {
        throw new TpslabError('TPSLAB_E_WRONG_NETWORK', `the ordering log ${log.stream} belongs to genesis ${e.string().slice(0, 16)}…, not ${hex.slice(0, 16)}…`);
      }
    }
    return log;
  }

  /** Most bytes one message may hold (the server's max_payload), less room for headers. */
  get maxMessageBytes(): number {
    return (this.nc.info?.max_payload ?? 1 << 20) - 4096;
  }

  async lastSeq(): Promise<number> {
    const info = await this.jsm.streams.info(this.stream);
    return info.state.last_seq;
  }

  /** The entry at `seq`, or undefined when there is none (deleted, or beyond the end). */
  async get(seq: number): Promise<LogEntry | undefined> {
    const m = await this.jsm.streams.getMessage(this.stream, { seq }).catch(() => null);
    if (!m) return undefined;
    return { seq: m.seq, kind: m.header.get(KIND_HEADER) === 'marker' ? 'marker' : 'block', height: Number(m.header.get(HEIGHT_HEADER)), data: m.data };
  }

  /** The first sequence whose entry is above `height` (last + 1 when there is none): where a follower at `height` starts. */
  async seqAfterHeight(height: number): Promise<number> {
    const info = await this.jsm.streams.info(this.stream);
    let lo = Math.max(1, info.state.first_seq);
    let hi = info.state.last_seq + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const e = await this.get(mid);
      if (!e) throw new TpslabError('TPSLAB_E_LOG_CORRUPT', `entry ${mid} of the ordering log ${this.stream} is missing; the stream must keep every block`);
      if (e.height > height) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * Appends after `expectLastSeq`; resolves with the entry's sequence. Rejects with FencedError when the
   * stream's last sequence is another (a newer leader appended); with other errors (timeouts, no
   * responders) when the outcome is unknown: retrying with the same `msgId` is then safe.
   */
  async append(kind: 'block' | 'marker', height: number, data: Uint8Array, expectLastSeq: number, msgId: string): Promise<number> {
    const h = headers();
    h.set(KIND_HEADER, kind);
    h.set(HEIGHT_HEADER, String(height));
    try {
      const ack = await this.js.publish(this.subject, data, { headers: h, msgID: msgId, expect: { lastSequence: expectLastSeq }, timeout: this.opts.requestTimeoutMs });
      if (!ack.duplicate && ack.seq !== expectLastSeq + 1) throw new FencedError(`appended at ${ack.seq}, expected ${expectLastSeq + 1}`);
      return ack.seq;
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE)) throw err;
      // A retry of an append whose first try was stored (its answer lost when a server died) is refused
      // here: the stream moved past the expected sequence, by our own message. That is a success.
      const next = await this.jsm.streams.getMessage(this.stream, { seq: expectLastSeq + 1 }).catch((e: unknown) => {
        throw new Error(`append refused at sequence ${expectLastSeq}, and reading entry ${expectLastSeq + 1} to see whose it is failed: ${(e as Error).message}`, { cause: e });
      });
      if (next?.header.get(MSG_ID_HEADER) === msgId) return expectLastSeq + 1;
      throw new FencedError(`the ordering log moved past sequence ${expectLastSeq}: another leader appended`, { cause: err });
    }
  }

  /** Delivers every entry from `fromSeq` on, in order, until the returned handle is stopped. */
  async follow(fromSeq: number, onEntry: (e: LogEntry) => void): Promise<{ stop(): Promise<void> }> {
    const consumer = await this.js.consumers.get(this.stream, { opt_start_seq: fromSeq, deliver_policy: DeliverPolicy.StartSequence });
    const messages: ConsumerMessages = await consumer.consume({ max_messages: 256 });
    let stopped = false;
    const done = (async () => {
      for await (const m of messages) {
        if (stopped) break;
        onEntry({ seq: m.seq, kind: m.headers?.get(KIND_HEADER) === 'marker' ? 'marker' : 'block', height: Number(m.headers?.get(HEIGHT_HEADER)), data: m.data });
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        messages.stop();
        await done.catch(() => {});
      },
    };
  }
}

export function isFenced(err: unknown): boolean {
  return err instanceof FencedError;
}
