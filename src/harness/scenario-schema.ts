/**
 * The scenario schema: every option, its type, default and limits. The input
 * side (defaults optional) is published as schemas/scenario.schema.json for
 * editors; the output side (`Scenario`) is what the harness reads. Parsing a
 * parsed scenario gives it back unchanged, so it can travel as JSON.
 * Cross-field rules live in scenario.ts (`checkScenario`).
 */
import { z } from 'zod';
import { EthereumTargetSchema, HttpTargetSchema, TpslabTargetSchema } from '../connectors/schemas.js';
import { parseThreshold } from './thresholds.js';

const U64_MAX = (1n << 64n) - 1n;

const count = (min: number, max = Number.MAX_SAFE_INTEGER) => z.int().min(min).max(max);
const ratePerSec = z.number().gt(0);
const durationSec = z.number().gt(0);
const fraction = z.number().gt(0).lt(1);
const path = z.string().min(1);
const U64_HINT = 'must be a whole number from 0 to 2^64-1, as an integer or (above 2^53) a decimal string such as "18446744073709551615"';
const u64 = z
  .union([z.string().regex(/^(0|[1-9][0-9]{0,19})$/, U64_HINT), z.int({ error: U64_HINT }).nonnegative(U64_HINT)], { error: U64_HINT })
  .transform((v, ctx) => {
    const n = BigInt(v);
    if (n > U64_MAX) ctx.addIssue({ code: 'custom', message: 'must be at most 2^64-1 (18446744073709551615)', input: v });
    return n.toString();
  });

/** A threshold expression, checked with the same parser the overseer uses. */
const thresholdExpr = z.string().superRefine((expr, ctx) => {
  try {
    parseThreshold(expr, 0);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err instanceof Error ? err.message : String(err)).replace(/^thresholds\[\d+\]: /, ''), input: expr });
  }
});

/**
 * Scenarios written before connectors said `kind: embedded` or `kind: endpoints`: both are
 * the tpslab connector now, and keep working as written (docs/connectors.md).
 */
function upgradeLegacyTarget(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const t = input as Record<string, unknown>;
  if (t.kind === undefined || t.kind === 'embedded') return { ...t, kind: 'tpslab' };
  // `endpoints` always named its endpoints: an empty list is refused by path rather than starting a network.
  if (t.kind === 'endpoints') return { ...t, kind: 'tpslab', endpoints: t.endpoints ?? [] };
  return input;
}

export const TargetSchema = z
  .preprocess(upgradeLegacyTarget, z.discriminatedUnion('kind', [TpslabTargetSchema, HttpTargetSchema, EthereumTargetSchema]))
  .describe('The network under test, reached through the connector that target.kind names (docs/connectors.md).');

export const AccountsSchema = z.strictObject({
  count: count(1, 10_000_000).default(1000).describe('Sending accounts to create and fund before the run.'),
  balance: u64.prefault(1_000_000_000).describe('Initial balance of each account: an integer, or a decimal string above 2^53.'),
});

export const ContentionSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('uniform').default('uniform') }),
    z.strictObject({ kind: z.literal('zipf'), s: z.number().gt(0).default(1.1).describe('Zipf exponent: higher concentrates sends on fewer accounts.') }),
    z.strictObject({
      kind: z.literal('hotset'),
      hotAccounts: fraction.default(0.01).describe('Fraction of accounts that are hot.'),
      hotShare: fraction.default(0.9).describe('Fraction of transactions sent by hot accounts.'),
    }),
  ])
  .describe('Which accounts send: all equally (uniform), Zipf-distributed, or a hot set.');

const sign = z.enum(['presign', 'live']).default('presign').describe('presign: beacons sign their whole share before the start; live: sign as they send.');
const fee = count(0).default(0).describe('Fee per transaction.');

export const TransferWorkloadSchema = z.strictObject({
  kind: z.literal('transfer').default('transfer'),
  amount: count(1).default(1).describe('Amount per transfer.'),
  fee,
  contention: ContentionSchema.prefault({}),
  sign,
});

export const MessageWorkloadSchema = z.strictObject({
  kind: z.literal('message'),
  topics: count(1, 1000).default(4).describe('Topics created before the run; messages spread over them.'),
  payloadBytes: count(0, 4096).default(128).describe('Payload size of each message.'),
  fee,
  contention: ContentionSchema.prefault({}),
  sign,
});

export const ReplayWorkloadSchema = z.strictObject({
  kind: z.literal('replay'),
  dataset: path.describe('A prepared dataset (`tpslab dataset prepare`); relative to the scenario file. The embedded network starts on its genesis, `<dataset>.genesis.json` beside it (or target.genesis).'),
  timing: z.enum(['max', 'original']).default('max').describe('max: as fast as load.maxInFlight allows; original: each transaction at its block time, the first block at the start, divided by speed.'),
  speed: z.number().gt(0).default(1).describe('timing original: how many times faster than the blocks were mined (600 turns 10 minutes into 1 second).'),
});

export const WorkloadSchema = z.discriminatedUnion('kind', [TransferWorkloadSchema, MessageWorkloadSchema, ReplayWorkloadSchema]).describe('What each transaction is.');

export const StageSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('constant'), ratePerSec, durationSec }),
    z.strictObject({ kind: z.literal('ramp'), fromPerSec: z.number().min(0), toPerSec: ratePerSec, durationSec }),
    z.strictObject({ kind: z.literal('steps'), fromPerSec: ratePerSec, toPerSec: ratePerSec, steps: count(2, 10_000), durationSec }),
    z.strictObject({ kind: z.literal('burst'), basePerSec: z.number().min(0), burstPerSec: ratePerSec, burstSec: durationSec, everySec: durationSec, durationSec }),
  ])
  .describe('One stage of the open-model schedule; stages run one after another.');

export const TraceSourceSchema = z.strictObject({
  file: path.describe('CSV file of send offsets; relative to the scenario file.'),
  column: z.string().min(1).default('offset_ms').describe('Column holding each send offset in milliseconds from the start.'),
});

export const LoadSchema = z.strictObject({
  mode: z.enum(['open', 'max', 'trace']).default('open').describe('open: send on a schedule (stages); max: as fast as accepted, up to maxInFlight; trace: replay send offsets from a CSV.'),
  arrival: z.enum(['uniform', 'poisson']).default('uniform').describe('Open mode: spacing of intended send times.'),
  stages: z.array(StageSchema).default([]).describe('Open mode: the schedule.'),
  maxInFlight: count(1).default(1000).describe('Max mode: unconfirmed transactions at most.'),
  durationSec: durationSec.default(30).describe('Max mode: how long to pump.'),
  trace: TraceSourceSchema.optional().describe('Trace mode: where the send offsets come from.'),
});

export const BeaconsSchema = z.strictObject({
  count: count(1, 1024).default(2).describe('Load generators; each gets a share of the accounts.'),
  batchMax: count(1, 10_000).default(200).describe('Transactions per HTTP request at most.'),
  batchDelayMs: count(0, 60_000).default(5).describe('How long a batch may wait to fill.'),
});

export const ConfirmationSchema = z.strictObject({
  method: z.enum(['stream', 'poll']).default('stream').describe('stream: the node commit WebSocket; poll: GET each transaction status.'),
  timeoutMs: count(1).default(30_000).describe('A transaction unconfirmed this long after its intended send time is lost.'),
  retries: count(0, 1000).default(5).describe('Resends of the same signed transaction on transient errors.'),
  pollIntervalMs: count(10, 600_000).default(500).describe('poll (and stream fallback): how often unconfirmed transactions are asked for, and how old a sent one must be before it is.'),
});

export const ResultsSchema = z.strictObject({
  db: path.default('results.db').describe('SQLite results database; relative to the working directory.'),
  outcomes: z.boolean().default(false).describe('Store every transaction outcome, not only per-second series.'),
});

const atSec = z.number().min(0).describe('When the fault starts: seconds after the beacons start.');
const faultRole = z.string().min(1).describe('A process of the embedded network: sequencer, tracker, node1, node2…');
const faultLink = z
  .enum(['beacons-nodes', 'nodes-sequencer', 'nodes-tracker', 'sequencer-tracker'])
  .describe('Which traffic, through a TCP proxy tpslab puts in between: beacons to nodes, nodes to the sequencer (transactions and the block feed), nodes to the tracker or the sequencer to the tracker (heartbeats).');
export const FaultSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('kill'), role: faultRole, atSec, restartAfterSec: z.number().gt(0).default(5).describe('kill: restart the role (same port and data) this long after kill -9.') }),
    z.strictObject({ kind: z.literal('pause'), role: faultRole, atSec, durationSec: z.number().gt(0).describe('How long the fault lasts.') }),
    z.strictObject({ kind: z.literal('partition'), link: faultLink.default('nodes-sequencer'), role: faultRole.optional().describe('Only this node (default: every node; sequencer-tracker: the sequencer).'), atSec, durationSec: z.number().gt(0) }),
    z.strictObject({
      kind: z.literal('latency'),
      link: faultLink,
      role: faultRole.optional(),
      delayMs: z.number().min(0).max(60_000).describe('latency: added one-way delay of every chunk.'),
      jitterMs: z.number().min(0).max(60_000).default(0).describe('latency: up to this much more, at random.'),
      atSec: atSec.default(0),
      durationSec: z.number().gt(0).optional().describe('latency: how long; default until the run ends.'),
    }),
    z.strictObject({
      kind: z.literal('bandwidth'),
      link: faultLink,
      role: faultRole.optional(),
      bytesPerSec: z.int().min(1).describe('bandwidth: bytes per second each direction of the link may carry.'),
      atSec: atSec.default(0),
      durationSec: z.number().gt(0).optional(),
    }),
    z.strictObject({
      kind: z.literal('command'),
      run: z.string().min(1).describe('command: a shell command run at atSec (any target).'),
      undo: z.string().min(1).optional().describe('command: a shell command run at atSec + durationSec.'),
      atSec,
      durationSec: z.number().min(0).default(0),
    }),
  ])
  .describe('One fault of the timeline (docs/experiments.md).');

export const ScenarioSchema = z
  .strictObject({
    name: z.string().min(1).default('unnamed').describe('Name of the run in reports.'),
    description: z.string().optional().describe('Free text for reports.'),
    seed: count(0).default(1).describe('Same seed, same transactions.'),
    target: TargetSchema.prefault({}),
    accounts: AccountsSchema.prefault({}),
    workload: WorkloadSchema.prefault({}),
    load: LoadSchema.prefault({}),
    beacons: BeaconsSchema.prefault({}),
    confirmation: ConfirmationSchema.prefault({}),
    startDelayMs: count(0, 3_600_000).default(2000).describe('The overseer starts every beacon at now + this.'),
    thresholds: z.array(thresholdExpr).default([]).describe('Pass/fail checks such as "latency.p99 < 250ms"; a breach exits with code 3.'),
    results: ResultsSchema.prefault({}),
    faults: z.array(FaultSchema).optional().describe('Faults injected during the run, each at its time: kill, pause, partition, latency, bandwidth (embedded network), command (any target).'),
  })
  .meta({ title: 'tpslab scenario', description: 'A tpslab load test: target, accounts, workload, load profile, beacons, confirmation, thresholds. See docs/scenario.md.' });

export type ScenarioInput = z.input<typeof ScenarioSchema>;
export type Scenario = z.output<typeof ScenarioSchema>;
export type Target = Scenario['target'];
export type TpslabTarget = Extract<Target, { kind: 'tpslab' }>;
export type HttpTarget = Extract<Target, { kind: 'http' }>;
export type Accounts = Scenario['accounts'];
export type Workload = Scenario['workload'];
export type TransferWorkload = Extract<Workload, { kind: 'transfer' }>;
export type MessageWorkload = Extract<Workload, { kind: 'message' }>;
export type ReplayWorkload = Extract<Workload, { kind: 'replay' }>;
export type Contention = TransferWorkload['contention'];
export type SignMode = TransferWorkload['sign'];
export type Load = Scenario['load'];
export type LoadMode = Load['mode'];
export type Arrival = Load['arrival'];
export type Stage = Load['stages'][number];
export type ConstantStage = Extract<Stage, { kind: 'constant' }>;
export type RampStage = Extract<Stage, { kind: 'ramp' }>;
export type StepsStage = Extract<Stage, { kind: 'steps' }>;
export type BurstStage = Extract<Stage, { kind: 'burst' }>;
export type TraceSource = NonNullable<Load['trace']>;
export type Beacons = Scenario['beacons'];
export type Confirmation = Scenario['confirmation'];
export type ConfirmationMethod = Confirmation['method'];
export type Results = Scenario['results'];
export type Fault = NonNullable<Scenario['faults']>[number];
