/**
 * Moving wire frames over a NATS connection: publish, request with a decoded
 * answer, sequence-numbered chunks (headers Tpslab-Seq/Part/Parts), and the
 * acknowledged control channel (one request per chunk, retried, in order).
 * Only moves bytes: encoding is wire-codec.ts, sequence logic report-channel.ts.
 */
import { headers, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { TpslabError } from '../errors.js';
import { WireMessageSchema, type WireMessage } from './nats-messages.js';
import type { ChunkHeader } from './report-channel.js';
import { decodeFrame, encodeFrame } from './wire-codec.js';

/** Room left under the server's max_payload for headers. */
const HEADER_ROOM_BYTES = 4096;
const CONTROL_ATTEMPTS = 4;

export class NatsWire {
  constructor(readonly nc: NatsConnection) {}

  get maxChunkBytes(): number {
    return Math.max(1024, (this.nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM_BYTES);
  }

  publish(subject: string, m: WireMessage): void {
    this.nc.publish(subject, encodeFrame(m));
  }

  async request(subject: string, m: WireMessage, timeoutMs: number, what: string): Promise<WireMessage> {
    const r = await this.nc.request(subject, encodeFrame(m), { timeout: timeoutMs });
    return decodeFrame(r.data, WireMessageSchema, what);
  }

  publishChunk(subject: string, h: ChunkHeader, chunk: Uint8Array): void {
    this.nc.publish(subject, chunk, { headers: chunkHeaders(h) });
  }

  /** Sends one chunk by request and waits for its acknowledgement, retrying on timeout. */
  async requestChunk(subject: string, h: ChunkHeader, chunk: Uint8Array, timeoutMs: number, what: string): Promise<void> {
    let last: unknown;
    for (let attempt = 1; attempt <= CONTROL_ATTEMPTS; attempt++) {
      try {
        const r = await this.nc.request(subject, chunk, { timeout: timeoutMs, headers: chunkHeaders(h) });
        const ack = decodeFrame(r.data, WireMessageSchema, what);
        if (ack.type === 'ack') return;
        throw new TpslabError('TPSLAB_E_WIRE', `${what} answered a control message with "${ack.type}", not an acknowledgement`);
      } catch (err) {
        if (err instanceof TpslabError) throw err;
        last = err;
      }
    }
    throw new TpslabError('TPSLAB_E_NATS', `${what} did not acknowledge a control message after ${CONTROL_ATTEMPTS} attempts of ${timeoutMs} ms: ${(last as Error).message}`, { cause: last });
  }

  /** Subscribes; `handle` may answer (for requests). Bad frames go to `bad`, never throw into the client. */
  serve(subject: string, handle: (m: WireMessage, msg: Msg) => WireMessage | undefined, bad: (e: Error, subject: string) => void, queue?: string): Subscription {
    return this.nc.subscribe(subject, {
      ...(queue ? { queue } : {}),
      callback: (err, msg) => {
        if (err) return bad(err, subject);
        try {
          const answer = handle(decodeFrame(msg.data, WireMessageSchema, msg.subject), msg);
          if (answer && msg.reply) msg.respond(encodeFrame(answer));
        } catch (e) {
          bad(e as Error, msg.subject);
        }
      },
    });
  }
}

function chunkHeaders(h: ChunkHeader): MsgHdrs {
  const hd = headers();
  hd.set('Tpslab-Seq', String(h.seq));
  hd.set('Tpslab-Part', String(h.part));
  hd.set('Tpslab-Parts', String(h.parts));
  return hd;
}

/** Reads a chunk's header; throws TPSLAB_E_WIRE when absent or not numbers. */
export function readChunkHeader(msg: Msg): ChunkHeader {
  const get = (k: string): number => {
    const v = msg.headers?.get(k);
    const n = Number(v);
    if (!v || !Number.isInteger(n) || n < 0) throw new TpslabError('TPSLAB_E_WIRE', `bad chunk on ${msg.subject}: header ${k} is ${JSON.stringify(v ?? null)}, expected a non-negative integer`);
    return n;
  };
  const h = { seq: get('Tpslab-Seq'), part: get('Tpslab-Part'), parts: get('Tpslab-Parts') };
  if (h.parts < 1 || h.part >= h.parts) throw new TpslabError('TPSLAB_E_WIRE', `bad chunk on ${msg.subject}: part ${h.part} of ${h.parts}`);
  return h;
}

/** The sending end of a control channel: sequence-numbered, chunked, each chunk acknowledged, in order. */
export class ControlSender {
  private seq = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly wire: NatsWire,
    private readonly subject: string,
    private readonly what: string,
    private readonly timeoutMs: number,
  ) {}

  /** Resolves once every chunk was acknowledged; rejects with TPSLAB_E_NATS if one never was. */
  send(m: WireMessage): Promise<void> {
    const frame = encodeFrame(m);
    const seq = this.seq++;
    const max = this.wire.maxChunkBytes;
    const parts = Math.max(1, Math.ceil(frame.length / max));
    const run = async (): Promise<void> => {
      for (let part = 0; part < parts; part++) {
        await this.wire.requestChunk(this.subject, { seq, part, parts }, frame.subarray(part * max, (part + 1) * max), this.timeoutMs, this.what);
      }
    };
    const p = this.chain.then(run);
    this.chain = p.catch(() => undefined);
    return p;
  }
}
