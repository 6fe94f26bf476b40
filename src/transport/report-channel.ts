/**
 * Sequence-numbered, chunked delivery over a transport that may drop messages
 * (NATS core publish is at most once). Pure: the transport is two callbacks.
 *
 * The sender numbers every frame (0, 1, …), splits it into chunks that fit the
 * server's payload limit, and keeps what it sent so a receiver can ask again.
 * The receiver reassembles chunks, delivers frames in sequence order exactly
 * once, and when it sees a gap (a later sequence, or a heartbeat naming a
 * sequence it never got) asks the sender to resend from the first missing one,
 * at most once per `resendAfterMs` while the gap lasts. Nothing is dropped
 * silently: an undeliverable frame stays a gap the overseer keeps asking about.
 */
import type { Clock } from '../clock.js';

export interface ChunkHeader {
  seq: number;
  part: number;
  parts: number;
}

export class FrameSender {
  private readonly history: Uint8Array[] = [];
  /** Sequences never to publish the first time (fault injection in tests: `--drop-report`). */
  readonly dropOnce = new Set<number>();

  constructor(
    private readonly publish: (h: ChunkHeader, chunk: Uint8Array) => void,
    private readonly maxChunkBytes: number,
  ) {
    if (!(maxChunkBytes > 0)) throw new RangeError('maxChunkBytes must be positive');
  }

  /** Sequence of the last frame sent, -1 before the first. */
  get lastSeq(): number {
    return this.history.length - 1;
  }

  /** Frames kept for resending, in sequence order. */
  get frames(): readonly Uint8Array[] {
    return this.history;
  }

  send(frame: Uint8Array): number {
    const seq = this.history.length;
    this.history.push(frame);
    if (this.dropOnce.delete(seq)) return seq;
    this.publishFrame(seq);
    return seq;
  }

  /** Publishes every frame from `fromSeq` again. */
  resend(fromSeq: number): void {
    for (let s = Math.max(0, fromSeq); s < this.history.length; s++) this.publishFrame(s);
  }

  private publishFrame(seq: number): void {
    const frame = this.history[seq]!;
    const parts = Math.max(1, Math.ceil(frame.length / this.maxChunkBytes));
    for (let part = 0; part < parts; part++) {
      this.publish({ seq, part, parts }, frame.subarray(part * this.maxChunkBytes, (part + 1) * this.maxChunkBytes));
    }
  }
}

export interface FrameReceiverOptions {
  deliver(frame: Uint8Array, seq: number): void;
  askResend(fromSeq: number): void;
  clock: Clock;
  /** Between two requests to resend the same gap. */
  resendAfterMs: number;
}

export class FrameReceiver {
  private next = 0;
  private readonly partial = new Map<number, { parts: (Uint8Array | undefined)[]; have: number }>();
  private readonly complete = new Map<number, Uint8Array>();
  private askedFor = -1;
  private askedAtMs = -Infinity;
  /** Gaps noticed (each distinct first-missing sequence counts once). */
  gaps = 0;

  constructor(private readonly o: FrameReceiverOptions) {}

  /** The next sequence expected (everything before it was delivered). */
  get expected(): number {
    return this.next;
  }

  onChunk(h: ChunkHeader, chunk: Uint8Array): void {
    if (h.seq < this.next || this.complete.has(h.seq) || h.part >= h.parts) return; // a duplicate (a resend), or nonsense
    let p = this.partial.get(h.seq);
    if (!p || p.parts.length !== h.parts) this.partial.set(h.seq, (p = { parts: new Array<Uint8Array | undefined>(h.parts), have: 0 }));
    if (!p.parts[h.part]) {
      p.parts[h.part] = chunk.slice();
      p.have++;
    }
    if (p.have === h.parts) {
      this.partial.delete(h.seq);
      this.complete.set(h.seq, h.parts === 1 ? p.parts[0]! : Buffer.concat(p.parts as Uint8Array[]));
    }
    this.flush();
    // A chunk of a later sequence while an earlier one is incomplete: a gap.
    if (h.seq > this.next) this.gap();
  }

  /** The sender says it has sent up to `lastSeq`: anything not delivered by now is a gap. */
  onHeartbeat(lastSeq: number): void {
    if (lastSeq >= this.next) this.gap();
  }

  private flush(): void {
    for (let f = this.complete.get(this.next); f; f = this.complete.get(this.next)) {
      this.complete.delete(this.next);
      const seq = this.next++;
      this.o.deliver(f, seq);
    }
  }

  private gap(): void {
    const now = this.o.clock.now();
    if (this.askedFor === this.next && now - this.askedAtMs < this.o.resendAfterMs) return;
    if (this.askedFor !== this.next) this.gaps++;
    this.askedFor = this.next;
    this.askedAtMs = now;
    this.o.askResend(this.next);
  }
}
