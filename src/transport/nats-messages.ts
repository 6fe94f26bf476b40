/**
 * What overseer and beacons say to each other over NATS: the harness's message
 * union (messages.ts) wrapped with what crossing machines needs — joining,
 * clock probes, heartbeats, acknowledgements, resend requests. One
 * discriminated union, validated on receipt by the wire codec.
 *
 * Subjects (one run = one session id, `<id>`):
 *   tpslab.register                       beacon → overseer, request: join a run
 *   tpslab.run.<id>.clock                 beacon → overseer, request: clock probe
 *   tpslab.run.<id>.hello                 beacon → overseer, request: ready to be assigned, with its clock offset
 *   tpslab.run.<id>.report.<name>         beacon → overseer, publish: reports, sequence-numbered, chunked
 *   tpslab.run.<id>.hb.beacon             beacon → overseer, publish: heartbeat with the last report sequence
 *   tpslab.run.<id>.ctl.<name>            overseer → beacon, request per chunk, acknowledged: assign, start, stop, resend, release
 *   tpslab.run.<id>.hb.overseer           overseer → beacons, publish: heartbeat
 */
import { z } from 'zod';
import { BeaconMessageSchema, OverseerMessageSchema } from '../harness/messages.js';

export const REGISTER_SUBJECT = 'tpslab.register';
export const runSubject = (runId: string, ...rest: string[]): string => ['tpslab', 'run', runId, ...rest].join('.');

/** Beacon names become subject tokens: letters, digits, `-` and `_`. */
export const BEACON_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const name = z.string().regex(BEACON_NAME, 'must be 1-64 letters, digits, "-" or "_"');
const seq = z.number().int().nonnegative();

export const WireMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('register'), name }),
  z.strictObject({ type: z.literal('welcome'), runId: z.string().min(1), heartbeatMs: z.number().int().positive() }),
  z.strictObject({ type: z.literal('refused'), reason: z.string() }),
  z.strictObject({ type: z.literal('clock'), name, t0: z.number() }),
  z.strictObject({ type: z.literal('clock-reply'), t0: z.number(), t1: z.number() }),
  z.strictObject({ type: z.literal('hello'), name, offsetMs: z.number(), uncertaintyMs: z.number().nonnegative(), rounds: z.number().int().positive() }),
  z.strictObject({ type: z.literal('ack'), seq: seq.optional() }),
  z.strictObject({ type: z.literal('heartbeat'), name: z.string(), lastSeq: z.number().int(), nowMs: z.number() }),
  /** A beacon's report: a harness message from one of its jobs. */
  z.strictObject({ type: z.literal('report'), job: z.string(), msg: BeaconMessageSchema }),
  /** When a job's first transaction went out, on the beacon's own clock (the overseer corrects it by the offset): sent before its `done`. */
  z.strictObject({ type: z.literal('first-send'), job: z.string(), atMs: z.number() }),
  /**
   * A control message for one job. `skip`: the first plan entries were sent by a previous owner
   * (built, not sent). `startAtMs`: the run's start (overseer clock) for a job assigned after it.
   * `takeover`: max-mode senders another beacon sent from; learn their nonces from the network.
   */
  z.strictObject({ type: z.literal('control'), job: z.string(), msg: OverseerMessageSchema, skip: seq.optional(), startAtMs: z.number().optional(), takeover: z.boolean().optional() }),
  z.strictObject({ type: z.literal('resend'), fromSeq: seq }),
  z.strictObject({ type: z.literal('release'), reason: z.string() }),
]);
export type WireMessage = z.infer<typeof WireMessageSchema>;
export type WireOf<T extends WireMessage['type']> = Extract<WireMessage, { type: T }>;
