import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTx, verifyTx } from '../../src/protocol/signing.js';
import { txFromJson, txToJson } from '../../src/protocol/json.js';
import type { SignedTx } from '../../src/protocol/tx.js';
import { bodyArb, key, NETWORK, sampleTxs, sign, sampleBodies, throwsCoded } from './fixtures.js';

type Json = Record<string, unknown>;

/** txToJson -> text -> parse, as a client would send it. */
const viaText = (tx: SignedTx): Json => JSON.parse(JSON.stringify(txToJson(tx))) as Json;

function assertSameTx(a: SignedTx, b: SignedTx): void {
  assert.ok(a.id.equals(b.id), 'same id');
  assert.ok(a.bytes.equals(b.bytes), 'same bytes');
  assert.equal(a.bodyLength, b.bodyLength);
  assert.deepEqual(a.body, b.body);
  assert.deepEqual(a.signatures, b.signatures);
}

const bodies = sampleBodies();
const transferJson = (): Json => viaText(sign(bodies.transferMulti!));
const messageJson = (): Json => viaText(sign(bodies.message!));
const createAccountJson = (): Json => viaText(sign(bodies.createAccount!));
const createTopicJson = (): Json => viaText(sign(bodies.createTopic!));

function inputs(j: Json): Json[] {
  return j['inputs'] as Json[];
}
function outputs(j: Json): Json[] {
  return j['outputs'] as Json[];
}

/** A bad JSON form: TPSLAB_E_BAD_JSON whose message names `path` (e.g. `tx.inputs[0].amount: `). */
function badJson(j: unknown, path: string): void {
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  throwsCoded(() => txFromJson(j), 'TPSLAB_E_BAD_JSON', new RegExp(`${escaped}: `));
}

function badAddress(j: unknown, field: string): void {
  const err = throwsCoded(() => txFromJson(j), 'TPSLAB_E_BAD_ADDRESS', new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}: `));
  assert.equal(err.details?.['field'], field);
}

describe('JSON round trip', () => {
  for (const [name, tx] of sampleTxs()) {
    test(`${name} (${tx.body.kind}): txToJson -> text -> txFromJson keeps id and bytes`, () => {
      const j = viaText(tx);
      assert.equal(j['id'], tx.id.toString('hex'));
      assert.equal(j['kind'], tx.body.kind);
      assert.equal(typeof j['nonce'], 'string');
      const back = txFromJson(j);
      assertSameTx(back, tx);
      verifyTx(back, NETWORK);
      assertSameTx(decodeTx(back.bytes), tx);
    });
  }

  test('property: random transactions of every kind survive the JSON form', () => {
    fc.assert(
      fc.property(bodyArb, (body) => {
        const tx = sign(body);
        assertSameTx(txFromJson(viaText(tx)), tx);
      }),
      { numRuns: 150 },
    );
  });

  test('id is optional; fee and deps default; small numbers may be JSON numbers', () => {
    const j = createAccountJson();
    delete j['id'];
    const tx = txFromJson(j);
    assert.equal(tx.id.toString('hex'), createAccountJson()['id']);
    const minimal = viaText(sign({ ...bodies.createTopic!, fee: 0n, deps: [] }));
    const expected = txFromJson(minimal);
    delete minimal['fee'];
    delete minimal['deps'];
    delete minimal['id'];
    minimal['nonce'] = Number(minimal['nonce']);
    assertSameTx(txFromJson(minimal), expected);
  });

  test('id and hex fields are accepted in uppercase', () => {
    const j = transferJson();
    j['id'] = (j['id'] as string).toUpperCase();
    inputs(j)[0]!['signature'] = (inputs(j)[0]!['signature'] as string).toUpperCase();
    j['deps'] = (j['deps'] as string[]).map((d) => d.toUpperCase());
    assertSameTx(txFromJson(j), sign(bodies.transferMulti!));
  });

  test('an id that does not match the fields is rejected', () => {
    const j = messageJson();
    const id = j['id'] as string;
    j['id'] = (id[0] === '0' ? '1' : '0') + id.slice(1);
    throwsCoded(() => txFromJson(j), 'TPSLAB_E_BAD_JSON', /^tx\.id: given /);
    // A valid id with a changed field is rejected too.
    const k = messageJson();
    k['fee'] = '4';
    throwsCoded(() => txFromJson(k), 'TPSLAB_E_BAD_JSON', /^tx\.id: /);
    // ...but without an id the changed field parses (and then fails its signature).
    delete k['id'];
    throwsCoded(() => verifyTx(txFromJson(k), NETWORK), 'TPSLAB_E_BAD_SIGNATURE');
  });
});

describe('bad JSON forms', () => {
  test('not an object', () => {
    for (const v of [null, undefined, 'tx', 42, [], true]) badJson(v, 'tx');
  });

  test('unknown or missing kind', () => {
    badJson({ ...transferJson(), kind: 'bogus' }, 'tx.kind');
    const j = transferJson();
    delete j['kind'];
    badJson(j, 'tx.kind');
  });

  test('bad amounts name the full path', () => {
    for (const amount of ['-1', '01', '1.5', '', ' 1', '18446744073709551616', '99999999999999999999', 1.5, -1, 2 ** 60, null, true]) {
      const j = transferJson();
      inputs(j)[0]!['amount'] = amount;
      badJson(j, 'tx.inputs[0].amount');
      const k = transferJson();
      outputs(k)[3]!['amount'] = amount;
      badJson(k, 'tx.outputs[3].amount');
    }
    const j = transferJson();
    delete inputs(j)[1]!['amount'];
    badJson(j, 'tx.inputs[1].amount');
  });

  test('2^64-1 is accepted and 2^64 is not', () => {
    const j = transferJson();
    delete j['id'];
    inputs(j)[0]!['amount'] = '18446744073709551615';
    assert.equal(txFromJson(j).body.kind, 'transfer');
    j['nonce'] = '18446744073709551616';
    badJson(j, 'tx.nonce');
  });

  test('bad nonce, fee, deps, signatures, payload', () => {
    const missingNonce = createAccountJson();
    delete missingNonce['nonce'];
    badJson(missingNonce, 'tx.nonce');
    badJson({ ...createAccountJson(), fee: 'x' }, 'tx.fee');
    badJson({ ...createAccountJson(), deps: ['00'.repeat(32), 'zz'.repeat(32)] }, 'tx.deps[1]');
    badJson({ ...createAccountJson(), deps: ['00'.repeat(31)] }, 'tx.deps[0]');
    badJson({ ...createAccountJson(), deps: Array.from({ length: 17 }, () => '00'.repeat(32)) }, 'tx.deps');
    badJson({ ...createAccountJson(), deps: 'ab' }, 'tx.deps');
    badJson({ ...createAccountJson(), signature: '00'.repeat(63) }, 'tx.signature');
    const noSig = createTopicJson();
    delete noSig['signature'];
    badJson(noSig, 'tx.signature');
    const j = transferJson();
    inputs(j)[2]!['signature'] = 'xy'.repeat(64);
    badJson(j, 'tx.inputs[2].signature');
    badJson({ ...messageJson(), payload: 'not base64!' }, 'tx.payload');
    badJson({ ...messageJson(), payload: 7 }, 'tx.payload');
    badJson({ ...messageJson(), topic: 7 }, 'tx.topic');
  });

  test('bad entry lists', () => {
    badJson({ ...transferJson(), inputs: [] }, 'tx.inputs');
    badJson({ ...transferJson(), outputs: [] }, 'tx.outputs');
    badJson({ ...transferJson(), outputs: {} }, 'tx.outputs');
    const many = transferJson();
    many['inputs'] = Array.from({ length: 65 }, () => inputs(transferJson())[0]);
    badJson(many, 'tx.inputs');
  });

  test('unknown fields are rejected (strict objects)', () => {
    badJson({ ...createAccountJson(), extra: 1 }, 'tx');
    const j = transferJson();
    outputs(j)[1]!['signature'] = '00'.repeat(64);
    badJson(j, 'tx.outputs[1]');
    // A field of another kind is unknown here too.
    badJson({ ...createAccountJson(), topic: 'x' }, 'tx');
  });

  test('malformed topics are rejected with a coded error naming the topic', () => {
    for (const topic of ['', 'Upper', '-lead', 'a/b', 'a'.repeat(65), 'é']) {
      for (const j of [messageJson(), createTopicJson()]) {
        delete j['id'];
        j['topic'] = topic;
        badJson(j, 'tx.topic');
      }
    }
  });

  test('bad addresses are TPSLAB_E_BAD_ADDRESS naming the field', () => {
    const addr = key(3).address;
    const flipped = addr.slice(0, -1) + (addr.endsWith('q') ? 'p' : 'q');
    for (const bad of [flipped, 'tps1', 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', addr.toUpperCase().slice(0, 10) + addr.slice(10)]) {
      const j = transferJson();
      inputs(j)[1]!['account'] = bad;
      badAddress(j, 'tx.inputs[1].account');
      const k = transferJson();
      outputs(k)[2]!['account'] = bad;
      badAddress(k, 'tx.outputs[2].account');
      badAddress({ ...createAccountJson(), from: bad }, 'tx.from');
      badAddress({ ...createAccountJson(), account: bad }, 'tx.account');
      badAddress({ ...messageJson(), from: bad }, 'tx.from');
      badAddress({ ...createTopicJson(), from: bad }, 'tx.from');
    }
    // An empty address is a shape error.
    badJson({ ...createAccountJson(), account: '' }, 'tx.account');
  });
});
