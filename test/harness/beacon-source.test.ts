// A connector that brings its own transactions (BeaconConnector.source, the replay's path): the beacon pulls them lazily,
// keeps at most maxInFlight unconfirmed, sends each at its intended offset, drops resolved payloads and ends with the source.
// An in-process connector stands in for the network: what is tested is the beacon core's pacing, not a server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import type { BeaconConnector, ConfirmSink, SourcedTx, SubmitItem, SubmitResult } from '../../src/connectors/contract.js';
import { assignment } from '../../src/harness/assignment.js';
import { Beacon } from '../../src/harness/beacon.js';
import type { Assign, BeaconMessage } from '../../src/harness/messages.js';

const assign = (over: Partial<Assign>): Assign => assignment({
  mode: 'max',
  maxDurationMs: 60_000,
  maxInFlight: 100,
  batchMax: 50,
  confirmation: { method: 'poll', timeoutMs: 60_000, retries: 3, pollIntervalMs: 500 },
  ...over,
});

/** A connector whose source yields `count` transactions and which confirms each accepted one a few ms later. */
function sourcing(count: number, offsetMs?: (k: number) => number) {
  const seen = { pulled: 0, sent: 0, committed: 0, maxUnconfirmed: 0, maxAhead: 0, early: 0 };
  let sink: ConfirmSink | undefined;
  let startMs = 0;
  async function* source(): AsyncGenerator<SourcedTx> {
    for (let k = 0; k < count; k++) {
      seen.pulled++;
      seen.maxAhead = Math.max(seen.maxAhead, seen.pulled - seen.sent);
      yield { tx: { id: `t${k}`, payload: k }, sender: k % 7, ...(offsetMs ? { intendedOffsetMs: offsetMs(k) } : {}) };
    }
  }
  const connector: BeaconConnector = {
    position: 0,
    prepare: async () => {},
    build: () => {
      throw new Error('a sourcing connector builds nothing');
    },
    source: () => source(),
    submit: async (items: readonly SubmitItem[]): Promise<SubmitResult[]> => {
      for (const it of items) {
        const k = it.tx.payload as number;
        if (offsetMs && Date.now() < startMs + offsetMs(k)) seen.early++;
        seen.sent++;
      }
      seen.maxUnconfirmed = Math.max(seen.maxUnconfirmed, seen.sent - seen.committed);
      setTimeout(() => {
        for (const it of items) {
          seen.committed++;
          sink!.committed(it.tx.id, 1, Date.now());
        }
      }, 3);
      return items.map(() => ({ kind: 'accepted' }));
    },
    confirm: async (s) => {
      sink = s;
    },
    close: async () => {},
  };
  return { connector, seen, setStart: (ms: number) => (startMs = ms) };
}

test('a sourced share is pulled lazily, never more than maxInFlight unconfirmed, and the beacon ends with the source', async () => {
  const messages: BeaconMessage[] = [];
  const { connector, seen } = sourcing(3000);
  const b = new Beacon(assign({ maxInFlight: 100 }), (m) => void messages.push(m), connector, preciseClock);
  await b.prepare();
  assert.ok(seen.pulled <= 100, `prepare reads ahead at most maxInFlight (read ${seen.pulled})`);
  b.start(Date.now());
  await b.done;
  const done = messages.find((m) => m.type === 'done');
  assert.ok(done && done.type === 'done');
  assert.equal(done.sent, 3000);
  assert.equal(done.committed, 3000);
  assert.equal(done.committedDigest.count, 3000);
  b.release();
  assert.ok(seen.maxUnconfirmed <= 100, `at most maxInFlight unconfirmed (saw ${seen.maxUnconfirmed})`);
  assert.ok(seen.maxAhead <= 100 + 100 + 1, `read ahead stays bounded (saw ${seen.maxAhead})`);
  assert.ok(b.txs.built.every((x) => x === undefined), 'resolved transactions drop their payload');
});

test('sourced transactions with intended offsets are sent no earlier than their offset', async () => {
  const messages: BeaconMessage[] = [];
  const { connector, seen, setStart } = sourcing(200, (k) => Math.floor(k / 50) * 100);
  const b = new Beacon(assign({ maxInFlight: 1000 }), (m) => void messages.push(m), connector, preciseClock);
  await b.prepare();
  const at = Date.now() + 20;
  setStart(at);
  b.start(at);
  await b.done;
  assert.equal(seen.sent, 200);
  assert.equal(seen.early, 0, 'nothing sent before its intended offset');
  assert.ok(Date.now() - at >= 300, 'the last quarter waited for its offset (300 ms)');
  const done = messages.find((m) => m.type === 'done');
  assert.ok(done && done.type === 'done' && done.committed === 200);
});

test('a sourced share still unsent at the end of load.durationSec is left unsent, and the source is closed', async () => {
  const messages: BeaconMessage[] = [];
  let closed = false;
  let pulled = 0;
  async function* endless(): AsyncGenerator<SourcedTx> {
    try {
      for (let k = 0; k < 10_000_000; k++) {
        pulled++;
        yield { tx: { id: `e${k}`, payload: k }, sender: 0, intendedOffsetMs: k * 10 };
      }
    } finally {
      closed = true;
    }
  }
  let sink: ConfirmSink | undefined;
  const connector: BeaconConnector = {
    position: 0,
    prepare: async () => {},
    build: () => ({ id: 'never', payload: null }),
    source: () => endless(),
    submit: async (items) => {
      for (const it of items) sink!.committed(it.tx.id, 1, Date.now());
      return items.map(() => ({ kind: 'accepted' }));
    },
    confirm: async (s) => {
      sink = s;
    },
    close: async () => {},
  };
  const b = new Beacon(assign({ maxDurationMs: 300, maxInFlight: 50 }), (m) => void messages.push(m), connector, preciseClock);
  await b.prepare();
  b.start(Date.now());
  await b.done;
  const done = messages.find((m) => m.type === 'done');
  assert.ok(done && done.type === 'done');
  assert.ok(done.sent > 0 && done.sent <= 31, `sent only what was due within 300 ms (${done.sent})`);
  assert.equal(done.committed, done.sent);
  assert.ok(pulled < 1000, `pulled lazily (${pulled})`);
  await new Promise((r) => setTimeout(r, 10));
  assert.ok(closed, 'the source was closed');
});
