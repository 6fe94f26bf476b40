/**
 * `/v1/stream`: a WebSocket stream of commits. Each durable block is one
 * message `{ type: "block", height, hash, timestampMs, stateHash, txs: [{ id, kind, sender, topic?, seq? }] }`;
 * transactions that fail after acceptance arrive as `{ type: "failed", id, code, message }`. The block
 * feed to nodes also carries `{ type: "retaken", id }`: one announced failed was sent again and accepted.
 * `?from=H` replays blocks from height H out of the log before going live, so a
 * subscriber can resume from any height without a gap. With `?topic=NAME` only
 * messages of that topic are included (blocks without any are skipped), which
 * gives a group member its topic in total order; `&fromSeq=N` starts at the
 * topic's message N (from any starting sequence number).
 * A subscriber that falls more than 16 MiB behind is closed with code 1013.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { encodeAddress } from '../protocol/address.js';
import type { Block } from '../protocol/block.js';
import { txIdHex } from '../protocol/signing.js';
import { senderOf } from '../protocol/tx.js';
import type { CommittedBlock, FailedTx } from './sequencer.js';
import type { LedgerService } from './service.js';
import type { TxEffect } from './state.js';

const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * Senders' addresses by public key (latin1), first in first out: bech32m costs about 2 µs a
 * transaction, and a stream names the same senders block after block. Bounded (about 10 MB).
 */
const addressCache = new Map<string, string>();
const ADDRESS_CACHE_MAX = 65_536;

function senderAddress(account: Buffer): string {
  const k = account.toString('latin1');
  let a = addressCache.get(k);
  if (a === undefined) {
    a = encodeAddress(account);
    if (addressCache.size >= ADDRESS_CACHE_MAX) addressCache.delete(addressCache.keys().next().value!);
    addressCache.set(k, a);
  }
  return a;
}

interface Subscriber {
  ws: WebSocket;
  next: number;
  live: boolean;
  topic: string | undefined;
  /** With a topic: skip messages before this sequence number. */
  fromSeq: bigint | undefined;
  /** binary: encoded blocks as binary frames (the sequencer's feed to replicas). */
  binary: boolean;
}

/** Path of the sequencer's block feed for replicas: binary frames, one encoded block each. */
export const BLOCK_FEED_PATH = '/v1/internal/blocks';
export const STREAM_PATH = '/v1/stream';

/**
 * The stream's JSON text for a block, written as a string: no object per transaction for
 * JSON.stringify to walk (hex ids, kinds, bech32m addresses and decimal numbers need no escaping;
 * topics are user text and go through JSON.stringify).
 */
export function blockEvent(block: Block, effects: readonly TxEffect[], topic?: string, fromSeq?: bigint): string | undefined {
  let txs = '';
  let n = 0;
  for (let i = 0; i < block.txs.length; i++) {
    const tx = block.txs[i]!;
    const e = effects[i];
    if (topic !== undefined && (e?.topic !== topic || (fromSeq !== undefined && e.seq! < fromSeq))) continue;
    const body = tx.body;
    let entry = `{"id":"${txIdHex(tx.idKey)}","kind":"${body.kind}","sender":"${senderAddress(senderOf(body))}","nonce":"${body.nonce}"`;
    if (e?.topic !== undefined) {
      entry += `,"topic":${JSON.stringify(e.topic)},"seq":"${e.seq!}"`;
      if (topic !== undefined && body.kind === 'message') entry += `,"payload":"${body.payload.toString('base64')}"`;
    }
    txs += n++ === 0 ? `${entry}}` : `,${entry}}`;
  }
  if (topic !== undefined && n === 0) return undefined;
  return `{"type":"block","height":${block.height},"hash":"${block.hash.toString('hex')}","timestampMs":${block.timestampMs},"stateHash":"${block.stateHash.toString('hex')}","txs":[${txs}]}`;
}

export class CommitStream {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly subs = new Set<Subscriber>();

  constructor(
    private readonly seq: LedgerService,
    private readonly onCount: (n: number) => void,
  ) {
    seq.on('commit', (c) => this.onCommit(c));
    seq.on('failed', (f) => this.onFailed(f));
    seq.on('retaken', (r) => this.onRetaken(r.id));
  }

  /** Hook for the HTTP server's 'upgrade' event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const topic = url.searchParams.get('topic') ?? undefined;
    const fromSeqText = url.searchParams.get('fromSeq');
    const bad = (message: string): void => {
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ error: { code: 'TPSLAB_E_BAD_REQUEST', message } })}`);
    };
    let fromSeq: bigint | undefined;
    if (fromSeqText !== null) {
      if (topic === undefined || !/^[0-9]{1,20}$/.test(fromSeqText)) return bad('fromSeq needs a topic and a whole number, e.g. ?topic=news&fromSeq=100');
      fromSeq = BigInt(fromSeqText);
    }
    const fromText = url.searchParams.get('from');
    let from: number;
    if (fromText !== null) from = Number(fromText);
    else if (fromSeq !== undefined) from = this.seq.heightOfTopicSeq(topic!, fromSeq) ?? this.seq.durableHeight + 1;
    else from = this.seq.durableHeight + 1;
    if (!Number.isSafeInteger(from) || from < 1) return bad('from must be a block height >= 1');
    const binary = url.pathname === BLOCK_FEED_PATH;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, from, topic, fromSeq, binary));
  }

  private attach(ws: WebSocket, from: number, topic: string | undefined, fromSeq: bigint | undefined, binary: boolean): void {
    const sub: Subscriber = { ws, next: from, live: false, topic, fromSeq, binary };
    this.subs.add(sub);
    this.onCount(this.subs.size);
    ws.on('close', () => {
      this.subs.delete(sub);
      this.onCount(this.subs.size);
    });
    ws.on('error', () => ws.terminate());
    void this.catchUp(sub);
  }

  private async catchUp(sub: Subscriber): Promise<void> {
    try {
      while (sub.next <= this.seq.durableHeight && sub.ws.readyState === sub.ws.OPEN) {
        if (sub.binary) this.send(sub, await this.seq.readEncodedBlock(sub.next));
        else {
          const block = await this.seq.readBlock(sub.next);
          this.send(sub, blockEvent(block, this.seq.effectsOf(block), sub.topic, sub.fromSeq));
        }
        sub.next++;
      }
      sub.live = true;
    } catch {
      sub.ws.close(1011, 'could not read the log');
    }
  }

  private send(sub: Subscriber, text: string | Buffer | undefined): void {
    if (text === undefined || sub.ws.readyState !== sub.ws.OPEN) return;
    if (sub.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      sub.ws.close(1013, 'subscriber too slow; reconnect with ?from=<next height>');
      return;
    }
    sub.ws.send(text);
  }

  private onCommit(c: CommittedBlock): void {
    let all: string | undefined;
    for (const sub of this.subs) {
      if (!sub.live || sub.next !== c.block.height) continue;
      sub.next++;
      if (sub.binary) this.send(sub, c.encoded);
      else if (sub.topic === undefined) this.send(sub, (all ??= blockEvent(c.block, c.effects)));
      else this.send(sub, blockEvent(c.block, c.effects, sub.topic, sub.fromSeq));
    }
  }

  private onFailed(f: FailedTx): void {
    const text = JSON.stringify({ type: 'failed', id: f.id.toString('hex'), code: f.code, message: f.message });
    for (const sub of this.subs) if (sub.live && sub.topic === undefined) this.send(sub, text);
  }

  /** To nodes only (the block feed): a transaction they may remember as failed was sent again and accepted. */
  private onRetaken(id: Buffer): void {
    let text: string | undefined;
    for (const sub of this.subs) if (sub.live && sub.binary) this.send(sub, (text ??= `{"type":"retaken","id":"${id.toString('hex')}"}`));
  }

  close(): void {
    for (const sub of this.subs) sub.ws.terminate();
    this.wss.close();
  }
}
