/**
 * Shared fixtures for the protocol tests: deterministic key pairs, a handful of
 * representative signed transactions of every kind, fast-check arbitraries for
 * random valid bodies, and assertion helpers for coded errors.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isErrorCode, TpslabError, type ErrorCode } from '../../src/errors.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../../src/protocol/signing.js';
import type { Entry, SignedTx, TxBody } from '../../src/protocol/tx.js';

export const NETWORK = 'tpslab-protocol-test';
export const U64_MAX = (1n << 64n) - 1n;

/** A pool of distinct deterministic key pairs. */
export const KEYS: readonly KeyPair[] = Array.from({ length: 16 }, (_, i) => keyPairFromLabel(`protocol-test-${i}`));

export function key(i: number): KeyPair {
  const k = KEYS[i];
  if (!k) throw new Error(`no fixture key ${i}`);
  return k;
}

/** Deterministic filler bytes (not random, so failures reproduce). */
export function filled(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

/** Signing keys for a body, looked up in the fixture pool by public key. */
export function keysFor(body: TxBody): KeyPair[] {
  const accounts = body.kind === 'transfer' ? body.inputs.map((e) => e.account) : [body.from];
  return accounts.map((a) => {
    const k = KEYS.find((kp) => kp.publicKey.equals(a));
    if (!k) throw new Error('fixture body names an account with no fixture key');
    return k;
  });
}

export function sign(body: TxBody, network = NETWORK): SignedTx {
  return signTx(body, keysFor(body), network);
}

/** Representative bodies: every kind, with and without deps, small and multi-entry. */
export function sampleBodies(): Record<string, TxBody> {
  return {
    transferMulti: {
      kind: 'transfer',
      nonce: 7n,
      fee: 12n,
      deps: [filled(32, 1), filled(32, 2)],
      inputs: [
        { account: key(0).publicKey, amount: 1000n },
        { account: key(1).publicKey, amount: U64_MAX },
        { account: key(2).publicKey, amount: 0n },
      ],
      outputs: [
        { account: key(3).publicKey, amount: 400n },
        { account: filled(32, 9), amount: 600n },
        { account: key(4).publicKey, amount: 1n },
        { account: key(0).publicKey, amount: 123456789n },
      ],
    },
    transferMinimal: {
      kind: 'transfer',
      nonce: 0n,
      fee: 0n,
      deps: [],
      inputs: [{ account: key(5).publicKey, amount: 5n }],
      outputs: [{ account: key(6).publicKey, amount: 5n }],
    },
    message: {
      kind: 'message',
      nonce: U64_MAX,
      fee: 3n,
      deps: [filled(32, 3)],
      from: key(7).publicKey,
      topic: 'chat.room-1_a',
      payload: filled(40, 4),
    },
    messageEmpty: {
      kind: 'message',
      nonce: 1n,
      fee: U64_MAX,
      deps: [],
      from: key(8).publicKey,
      topic: '0',
      payload: Buffer.alloc(0),
    },
    createAccount: {
      kind: 'create-account',
      nonce: 2n,
      fee: 1n,
      deps: [filled(32, 5)],
      from: key(9).publicKey,
      account: key(10).publicKey,
    },
    createTopic: {
      kind: 'create-topic',
      nonce: 3n,
      fee: 0n,
      deps: [],
      from: key(11).publicKey,
      topic: 'a'.repeat(64),
    },
  };
}

export function sampleTxs(): Array<[string, SignedTx]> {
  return Object.entries(sampleBodies()).map(([name, body]) => [name, sign(body)]);
}

// ---------------------------------------------------------------- arbitraries

export const u64Arb: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, U64_MAX, U64_MAX - 1n, 1n << 63n) },
  { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: U64_MAX }) },
);

const bytesArb = (n: number): fc.Arbitrary<Buffer> => fc.uint8Array({ minLength: n, maxLength: n }).map((u) => Buffer.from(u));

const depsArb = fc.array(bytesArb(32), { maxLength: 16 });

const TOPIC_FIRST = 'abcdefghijklmnopqrstuvwxyz0123456789'.split('');
const TOPIC_REST = [...TOPIC_FIRST, '.', '_', '-'];

export const topicArb: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom(...TOPIC_FIRST), fc.array(fc.constantFrom(...TOPIC_REST), { maxLength: 63 })).map(([h, t]) => h + t.join('')),
  // Exactly the maximum length now and then.
  fc.tuple(fc.constantFrom(...TOPIC_FIRST), fc.array(fc.constantFrom(...TOPIC_REST), { minLength: 63, maxLength: 63 })).map(([h, t]) => h + t.join('')),
);

// Plain prototypes: assert.deepStrictEqual compares prototypes, and decoded entries are plain objects.
const entryArb: fc.Arbitrary<Entry> = fc.record({ account: bytesArb(32), amount: u64Arb }, { noNullPrototype: true });

export const transferArb: fc.Arbitrary<TxBody> = fc
  .record({
    nonce: u64Arb,
    fee: u64Arb,
    deps: depsArb,
    inputKeys: fc.uniqueArray(fc.integer({ min: 0, max: KEYS.length - 1 }), { minLength: 1, maxLength: 4 }),
    inputAmounts: fc.array(u64Arb, { minLength: 4, maxLength: 4 }),
    outputs: fc.array(entryArb, { minLength: 1, maxLength: 20 }),
  })
  .map(({ nonce, fee, deps, inputKeys, inputAmounts, outputs }) => ({
    kind: 'transfer' as const,
    nonce,
    fee,
    deps,
    inputs: inputKeys.map((k, i) => ({ account: key(k).publicKey, amount: inputAmounts[i]! })),
    outputs,
  }));

const fromArb = fc.integer({ min: 0, max: KEYS.length - 1 }).map((k) => key(k).publicKey);

export const messageArb: fc.Arbitrary<TxBody> = fc
  .record({
    nonce: u64Arb,
    fee: u64Arb,
    deps: depsArb,
    from: fromArb,
    topic: topicArb,
    payload: fc.uint8Array({ maxLength: 2000 }).map((u) => Buffer.from(u)),
  })
  .map((r) => ({ kind: 'message' as const, ...r }));

export const createAccountArb: fc.Arbitrary<TxBody> = fc
  .record({ nonce: u64Arb, fee: u64Arb, deps: depsArb, from: fromArb, account: bytesArb(32) })
  .map((r) => ({ kind: 'create-account' as const, ...r }));

export const createTopicArb: fc.Arbitrary<TxBody> = fc
  .record({ nonce: u64Arb, fee: u64Arb, deps: depsArb, from: fromArb, topic: topicArb })
  .map((r) => ({ kind: 'create-topic' as const, ...r }));

export const bodyArb: fc.Arbitrary<TxBody> = fc.oneof(transferArb, messageArb, createAccountArb, createTopicArb);

// ---------------------------------------------------------------- assertions

/** Runs `fn`, asserts it throws a TpslabError with `code`, and returns it. */
export function throwsCoded(fn: () => unknown, code: ErrorCode, messagePattern?: RegExp): TpslabError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown !== undefined, `expected a ${code} error, but nothing was thrown`);
  assert.ok(thrown instanceof TpslabError, `expected TpslabError ${code}, got ${String(thrown)}`);
  assert.ok(isErrorCode(thrown.code), `unknown error code ${String(thrown.code)}`);
  assert.equal(thrown.code, code, `expected ${code}, got ${thrown.code}: ${thrown.message}`);
  if (messagePattern) assert.match(thrown.message, messagePattern);
  return thrown;
}
