// Sequence numbers, chunks and gaps, over a fake transport that can lose, repeat and reorder.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { FrameReceiver, FrameSender, type ChunkHeader } from '../../src/transport/report-channel.js';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const frame = (s: string): Uint8Array => new TextEncoder().encode(s);

function pair(maxChunkBytes = 4) {
  const clock = new ManualClock();
  const wire: { h: ChunkHeader; c: Uint8Array }[] = [];
  const delivered: string[] = [];
  const asked: number[] = [];
  const sender = new FrameSender((h, c) => wire.push({ h, c }), maxChunkBytes);
  const receiver = new FrameReceiver({ deliver: (f) => delivered.push(text(f)), askResend: (from) => asked.push(from), clock, resendAfterMs: 500 });
  const pass = (filter: (h: ChunkHeader, k: number) => boolean = () => true): void => {
    const batch = wire.splice(0);
    batch.forEach((w, k) => filter(w.h, k) && receiver.onChunk(w.h, w.c));
  };
  return { clock, wire, delivered, asked, sender, receiver, pass };
}

test('frames larger than a chunk are split and reassembled in order', () => {
  const p = pair(4);
  p.sender.send(frame('hello world')); // 3 chunks
  p.sender.send(frame('ab'));
  assert.deepEqual(p.wire.map((w) => [w.h.seq, w.h.part, w.h.parts]), [[0, 0, 3], [0, 1, 3], [0, 2, 3], [1, 0, 1]]);
  p.pass();
  assert.deepEqual(p.delivered, ['hello world', 'ab']);
  assert.deepEqual(p.asked, []);
  assert.equal(p.receiver.expected, 2);
});

test('a lost report is noticed by the next one, asked again, and delivered once in order', () => {
  const p = pair(100);
  for (const s of ['r0', 'r1', 'r2']) p.sender.send(frame(s));
  p.pass((h) => h.seq !== 1); // r1 lost
  assert.deepEqual(p.delivered, ['r0']);
  assert.deepEqual(p.asked, [1]);
  assert.equal(p.receiver.gaps, 1);
  p.sender.resend(1);
  p.pass();
  assert.deepEqual(p.delivered, ['r0', 'r1', 'r2'], 'r2 is delivered once, after r1');
});

test('a lost last report is noticed from the heartbeat', () => {
  const p = pair(100);
  p.sender.send(frame('r0'));
  p.sender.send(frame('done'));
  p.pass((h) => h.seq === 0);
  assert.deepEqual(p.asked, []);
  p.receiver.onHeartbeat(p.sender.lastSeq);
  assert.deepEqual(p.asked, [1]);
  p.sender.resend(1);
  p.pass();
  assert.deepEqual(p.delivered, ['r0', 'done']);
  p.receiver.onHeartbeat(p.sender.lastSeq);
  assert.deepEqual(p.asked, [1], 'no gap once delivered');
});

test('a lost chunk of a frame is a gap; asking again is throttled until resendAfterMs', () => {
  const p = pair(2);
  p.sender.send(frame('abcdef'));
  p.sender.send(frame('gh'));
  p.pass((h) => !(h.seq === 0 && h.part === 1));
  assert.deepEqual(p.delivered, []);
  assert.deepEqual(p.asked, [0]);
  p.receiver.onHeartbeat(1);
  assert.deepEqual(p.asked, [0], 'asked once within resendAfterMs');
  p.clock.advance(501);
  p.receiver.onHeartbeat(1);
  assert.deepEqual(p.asked, [0, 0], 'asked again when the resend was lost too');
  p.sender.resend(0);
  p.pass();
  assert.deepEqual(p.delivered, ['abcdef', 'gh']);
});

test('duplicates and resends of delivered frames are ignored', () => {
  const p = pair(100);
  p.sender.send(frame('a'));
  p.sender.send(frame('b'));
  p.pass();
  p.sender.resend(0);
  p.pass();
  assert.deepEqual(p.delivered, ['a', 'b']);
});

test('a sender fault drops a sequence only once (fault injection used by the e2e test)', () => {
  const p = pair(100);
  p.sender.dropOnce.add(1);
  for (const s of ['a', 'b', 'c']) p.sender.send(frame(s));
  p.pass();
  assert.deepEqual(p.asked, [1]);
  p.sender.resend(1);
  p.pass();
  assert.deepEqual(p.delivered, ['a', 'b', 'c']);
});
