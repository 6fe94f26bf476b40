/**
 * Messages between the overseer and its beacons: one versioned, discriminated
 * union, validated when received. Locally they travel over the child-process
 * IPC channel with structured clone (typed arrays and Buffers pass as they are).
 */
import { z } from 'zod';
import { TpslabError } from '../errors.js';
import { describeZodError } from '../zod-errors.js';
import { PlanDescriptorSchema } from './plan-stream.js';

export const PROTOCOL_VERSION = 2;

const v = z.literal(PROTOCOL_VERSION);
const float64s = z.custom<Float64Array>((x) => x instanceof Float64Array, 'must be a Float64Array');
const uint32s = z.custom<Uint32Array>((x) => x instanceof Uint32Array, 'must be a Uint32Array');
const counts = {
  sent: z.number().int().nonnegative(),
  committed: z.number().int().nonnegative(),
  /** Failed now (a failed transaction later seen committed leaves this count). */
  failed: z.number().int().nonnegative(),
  /** Every failure reported (cumulative, never decremented): the per-second failed series. */
  failures: z.number().int().nonnegative(),
  /** expired − late: past the timeout and not committed (yet). */
  lost: z.number().int().nonnegative(),
  /** Every transaction whose confirmation timeout expired before it was resolved (cumulative, never decremented). */
  expired: z.number().int().nonnegative(),
  /** Of those, the ones that committed afterwards (cumulative, never decremented). */
  late: z.number().int().nonnegative(),
  retries: z.number().int().nonnegative(),
  inFlight: z.number().int().nonnegative(),
  errors: z.record(z.string(), z.number().int().nonnegative()),
};

/** The work a beacon gets: its share of the plan in schedule order, and its connector's configuration. */
export const AssignSchema = z.strictObject({
  v,
  type: z.literal('assign'),
  runId: z.string(),
  beacon: z.number().int().nonnegative(),
  /** Which connector, and its configuration (plain JSON, validated by the connector's beacon schema). */
  connector: z.strictObject({ kind: z.string().min(1), config: z.unknown() }),
  accounts: z.strictObject({ start: z.number().int().nonnegative(), end: z.number().int().positive() }),
  sign: z.enum(['presign', 'live']),
  mode: z.enum(['open', 'max']),
  /** Open model: intended send offsets (ms from the start), ascending. Empty in max mode. */
  offsetsMs: float64s,
  /** Per transaction: the sender (global account index) and the recipient account index or topic index. */
  senders: uint32s,
  targets: uint32s,
  /**
   * Open model: the plan's parameters; the beacon generates its share (senders in `accounts`)
   * lazily and the three arrays above are empty. Absent: the arrays are the share (a trace).
   */
  plan: PlanDescriptorSchema.optional(),
  /** Max mode: pump for this long with at most maxInFlight unconfirmed. */
  maxDurationMs: z.number().nonnegative(),
  maxInFlight: z.number().int().positive(),
  batchMax: z.number().int().positive(),
  batchDelayMs: z.number().int().nonnegative(),
  confirmation: z.strictObject({
    method: z.enum(['stream', 'poll']),
    timeoutMs: z.number().int().positive(),
    retries: z.number().int().nonnegative(),
    pollIntervalMs: z.number().int().positive(),
  }),
  collectOutcomes: z.boolean(),
});
export type Assign = z.infer<typeof AssignSchema>;

/** Part of the committed set: senders [senderFrom, senderTo) × positions [heightFrom, heightTo). */
export const DigestRangeSchema = z.strictObject({
  senderFrom: z.number().int().nonnegative(),
  senderTo: z.number().int().nonnegative(),
  heightFrom: z.number().int(),
  heightTo: z.number().int(),
});
export type DigestRange = z.infer<typeof DigestRangeSchema>;
const digestJson = { count: z.number().int().nonnegative(), digest: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits') };

/** Reconciliation (docs/harness.md): the overseer asks a finished beacon for digests of ranges, and the ids of the leaf ones. */
export const DigestQuerySchema = z.strictObject({
  v,
  type: z.literal('digest-query'),
  query: z.number().int().nonnegative(),
  ranges: z.array(z.strictObject({ ...DigestRangeSchema.shape, ids: z.boolean() })),
});
export type DigestQuery = z.infer<typeof DigestQuerySchema>;

export const OverseerMessageSchema = z.discriminatedUnion('type', [
  AssignSchema,
  DigestQuerySchema,
  z.strictObject({ v, type: z.literal('start'), atMs: z.number() }),
  z.strictObject({ v, type: z.literal('stop'), reason: z.string() }),
]);
export type OverseerMessage = z.infer<typeof OverseerMessageSchema>;

export const OutcomeSchema = z.strictObject({
  id: z.string(),
  sender: z.number().int(),
  /** Order of this transaction among its sender's in the run (0, 1, …): the nonce offset for nonce-based networks. */
  nonce: z.number().int(),
  intendedMs: z.number(),
  sentMs: z.number().nullable(),
  committedMs: z.number().nullable(),
  status: z.enum(['committed', 'failed', 'lost', 'pending']),
  errorCode: z.string().nullable(),
  height: z.number().int().nullable(),
  attempts: z.number().int(),
});
export type Outcome = z.infer<typeof OutcomeSchema>;

export const BeaconMessageSchema = z.discriminatedUnion('type', [
  /** txs: planned transactions prepared before the start (a described share: the window generated ahead, not the whole share). */
  z.strictObject({ v, type: z.literal('ready'), beacon: z.number().int(), txs: z.number().int(), prepareMs: z.number() }),
  z.strictObject({
    v,
    type: z.literal('progress'),
    beacon: z.number().int(),
    /** Whole seconds since the start instant this report covers. */
    second: z.number().int(),
    ...counts,
    /** Encoded HdrHistograms of this second: latency from intended time, from actual send, and schedule lag. */
    corrected: z.string(),
    uncorrected: z.string(),
    lag: z.string(),
    /** Highest position (block height) the beacon's connector has confirmed. */
    height: z.number().int().nonnegative(),
  }),
  z.strictObject({
    v,
    type: z.literal('done'),
    beacon: z.number().int(),
    ...counts,
    /** Count and order-independent digest of the ids this beacon saw committed (set-digest.ts); the ids stay on its disk. */
    committedDigest: z.strictObject(digestJson),
    outcomes: z.array(OutcomeSchema).optional(),
  }),
  /** collectOutcomes: outcome rows of resolved transactions, streamed as the beacon drops them (a later row for an id replaces the earlier). */
  z.strictObject({ v, type: z.literal('outcomes'), beacon: z.number().int(), outcomes: z.array(OutcomeSchema) }),
  /** One cell per range asked, in order; `ids` only where asked. */
  z.strictObject({
    v,
    type: z.literal('digest-answer'),
    beacon: z.number().int(),
    query: z.number().int().nonnegative(),
    cells: z.array(z.strictObject({ ...digestJson, ids: z.array(z.string()).optional() })),
  }),
  z.strictObject({ v, type: z.literal('error'), beacon: z.number().int(), code: z.string(), message: z.string() }),
  z.strictObject({ v, type: z.literal('log'), beacon: z.number().int(), line: z.string() }),
]);
export type BeaconMessage = z.infer<typeof BeaconMessageSchema>;
export type ProgressMessage = Extract<BeaconMessage, { type: 'progress' }>;
export type DoneMessage = Extract<BeaconMessage, { type: 'done' }>;
export type DigestAnswer = Extract<BeaconMessage, { type: 'digest-answer' }>;

export function parseOverseerMessage(m: unknown): OverseerMessage {
  const r = OverseerMessageSchema.safeParse(m);
  if (!r.success) throw new TpslabError('TPSLAB_E_BEACON', `bad message from the overseer: ${describeZodError(r.error, 'message')}`);
  return r.data;
}

export function parseBeaconMessage(m: unknown): BeaconMessage {
  const r = BeaconMessageSchema.safeParse(m);
  if (!r.success) throw new TpslabError('TPSLAB_E_BEACON', `bad message from a beacon: ${describeZodError(r.error, 'message')}`);
  return r.data;
}
