import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TpslabError } from '../../src/errors.js';
import { assignment } from '../../src/harness/assignment.js';
import { PROTOCOL_VERSION, type Assign } from '../../src/harness/messages.js';
import { WireMessageSchema, type WireMessage } from '../../src/transport/nats-messages.js';
import { decodeFrame, encodeFrame } from '../../src/transport/wire-codec.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function assign(): Assign {
  return assignment({
    runId: 'r1',
    beacon: 2,
    connector: { kind: 'tpslab', config: { endpoints: ['http://127.0.0.1:1'], nested: { x: [1, 2] } } },
    accounts: { start: 10, end: 20 },
    offsetsMs: new Float64Array([0, 0.25, 1e-9, 12345.678, -0, Number.MAX_VALUE]),
    senders: new Uint32Array([10, 11, 19, 4294967295, 0, 12]),
    targets: new Uint32Array([1, 2, 3, 4, 5, 6]),
    maxInFlight: 100,
    batchMax: 50,
    batchDelayMs: 5,
    confirmation: { method: 'stream', timeoutMs: 30000, retries: 3, pollIntervalMs: 500 },
  });
}

function expectWireError(f: () => unknown, message: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof TpslabError && e.code === 'TPSLAB_E_WIRE' && message.test(e.message));
}

test('an assign round-trips through bytes with its typed arrays exact', () => {
  const m: WireMessage = { type: 'control', job: 'b2', msg: assign(), skip: 3, startAtMs: 1.5 };
  const frame = encodeFrame(m);
  const text = new TextDecoder().decode(frame);
  assert.match(text, /^\{"w":2,"m":\{/);
  assert.match(text, /"offsetsMs":\{"\$f64":"[A-Za-z0-9+/=]+"\}/);
  assert.ok(!text.includes('12345.678'), 'floats travel as bytes, not decimal text');
  const back = decodeFrame(frame, WireMessageSchema);
  assert.equal(back.type, 'control');
  const a = (back as Extract<WireMessage, { type: 'control' }>).msg as Assign;
  assert.ok(a.offsetsMs instanceof Float64Array && a.senders instanceof Uint32Array);
  assert.deepEqual([...a.offsetsMs], [...assign().offsetsMs]);
  assert.ok(Object.is(a.offsetsMs[4], -0));
  assert.deepEqual([...a.senders], [...assign().senders]);
  assert.deepEqual({ ...a, offsetsMs: 0, senders: 0, targets: 0 }, { ...assign(), offsetsMs: 0, senders: 0, targets: 0 });
});

test('typed arrays are little-endian on the wire', () => {
  const text = new TextDecoder().decode(encodeFrame({ x: new Uint32Array([1]), y: new Float64Array([1]) }));
  assert.ok(text.includes(`"$u32":"${Buffer.from([1, 0, 0, 0]).toString('base64')}"`));
  assert.ok(text.includes(`"$f64":"${Buffer.from([0, 0, 0, 0, 0, 0, 0xf0, 0x3f]).toString('base64')}"`));
});

test('empty typed arrays and reports round-trip', () => {
  const a = { ...assign(), offsetsMs: new Float64Array(0), senders: new Uint32Array(0), targets: new Uint32Array(0) };
  const back = decodeFrame(encodeFrame({ type: 'control', job: 'j', msg: a }), WireMessageSchema) as Extract<WireMessage, { type: 'control' }>;
  assert.equal((back.msg as Assign).offsetsMs.length, 0);
  const report: WireMessage = { type: 'report', job: 'j', msg: { v: PROTOCOL_VERSION, type: 'log', beacon: 0, line: 'héllo ✓' } };
  assert.deepEqual(decodeFrame(encodeFrame(report), WireMessageSchema), report);
});

test('bad bytes are a TPSLAB_E_WIRE error naming what was wrong', () => {
  expectWireError(() => decodeFrame(new Uint8Array([0xff, 0xfe]), WireMessageSchema), /not UTF-8/);
  expectWireError(() => decodeFrame(bytes('{"w":2,'), WireMessageSchema, 'beacon b1'), /from beacon b1: not JSON/);
  expectWireError(() => decodeFrame(bytes('[1,2]'), WireMessageSchema), /expected \{"w":2/);
  expectWireError(() => decodeFrame(bytes('{"w":1,"m":{}}'), WireMessageSchema), /wire version 1 .* speaks version 2: run the same tpslab version/);
  expectWireError(() => decodeFrame(bytes('{"w":2,"m":{"type":"resend","fromSeq":-1}}'), WireMessageSchema), /message\.fromSeq/);
  expectWireError(() => decodeFrame(bytes('{"w":2,"m":{"type":"nope"}}'), WireMessageSchema), /message\.type/);
  expectWireError(() => decodeFrame(bytes('{"w":2,"m":{"x":{"$f64":"!!!!"}}}'), WireMessageSchema), /x\.\$f64 must be a base64 string/);
  expectWireError(() => decodeFrame(bytes(`{"w":2,"m":{"x":{"$u32":"${Buffer.from([1, 2]).toString('base64')}"}}}`), WireMessageSchema), /2 bytes, not a multiple of 4/);
});

test('a typed array where a plain one is expected (and the reverse) does not validate', () => {
  const a = assign() as unknown as Record<string, unknown>;
  const bad = { ...a, offsetsMs: [0, 1, 2] };
  expectWireError(() => decodeFrame(encodeFrame({ type: 'control', job: 'j', msg: bad }), WireMessageSchema), /offsetsMs: must be a Float64Array/);
  const swapped = { ...a, senders: new Float64Array([1]) };
  expectWireError(() => decodeFrame(encodeFrame({ type: 'control', job: 'j', msg: swapped }), WireMessageSchema), /senders: must be a Uint32Array/);
});
