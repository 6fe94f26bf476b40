/**
 * Options of the `tpslab` connector (the scenario's `target` block) and the
 * configuration its target side hands each beacon. Kept free of heavy imports:
 * the scenario schema includes it.
 */
import { z } from 'zod';

const count = (min: number, max = Number.MAX_SAFE_INTEGER) => z.int().min(min).max(max);
/** Bounds of `connections` and `pipelining`, the same in the scenario and in a beacon's configuration. */
const connectionCount = () => count(1, 1024);
const pipelineDepth = () => count(1, 16);
const httpUrl = z.url({ protocol: /^https?$/ });
const path = z.string().min(1);

export const TpslabTargetSchema = z
  .strictObject({
    kind: z.literal('tpslab').default('tpslab'),
    nodes: count(1, 16).default(3).describe('Embedded network (no endpoints, no network file): nodes to start, plus one sequencer and one tracker.'),
    blockIntervalMs: count(1, 60_000).default(25).describe('Embedded network: the sequencer cuts a block at most this long after the first ready transaction, and at least this long after the previous block unless full.'),
    network: path
      .optional()
      .describe('A running network: the network.json that `tpslab net up` wrote (endpoints and faucet key are read from it); relative to the scenario file.'),
    endpoints: z.array(httpUrl).min(1).optional().describe('A running network: node API base URLs; beacons spread over them and fail over between them.'),
    faucetKey: path.optional().describe('With endpoints: key file of a funded account that provisions the run; relative to the scenario file.'),
    connections: connectionCount().optional().describe('Keep-alive connections per endpoint and beacon that carry its batches (default 16).'),
    pipelining: pipelineDepth()
      .optional()
      .describe('Batches a beacon may have outstanding on one connection (HTTP/1.1 pipelining): up to connections × pipelining requests in flight per endpoint, but a beacon never has more than 64 out, so a product above 64 adds nothing (default 1). The HTTP client puts a batch on the first connection with room in its pipeline, not the least busy one: batches pile up behind a slow answer while other connections idle. A batch unanswered within the request timeout, counted from when the beacon hands it over, fails with every batch queued or in flight on its endpoint, and they are retried on the next endpoint.'),
    genesis: path
      .optional()
      .describe('Embedded network: the genesis file it starts on; relative to the scenario file. Default: a replay dataset\'s `<dataset>.genesis.json`, else a fresh development genesis with a faucet.'),
  })
  .describe('The tpslab reference network: started on this machine for the run (embedded, the default), or a running one (network or endpoints).');

export type TpslabTargetOptions = z.output<typeof TpslabTargetSchema>;

/** What a tpslab beacon needs: plain JSON, so it can travel to another machine. */
export const TpslabBeaconSchema = z.strictObject({
  network: z.string().min(1),
  endpoints: z.array(z.string()).min(1),
  /** Seed of the deterministic account keys (key i = keyPairFromLabel(`${keySeed}:${i}`)). */
  keySeed: z.string(),
  accounts: z.strictObject({ start: z.number().int().nonnegative(), end: z.number().int().positive() }),
  /** Every account's next nonce is 0 (fresh accounts): no need to ask the network. */
  freshAccounts: z.boolean(),
  workload: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('transfer'), amount: z.number().int().positive(), fee: z.number().int().nonnegative() }),
    z.strictObject({ kind: z.literal('message'), topics: z.array(z.string()).min(1), payloadBytes: z.number().int().nonnegative(), fee: z.number().int().nonnegative() }),
    /** A replay: this beacon reads the dataset's records whose sender's shard key falls in `ranges` (the allocator's, end exclusive). */
    z.strictObject({
      kind: z.literal('replay'),
      dataset: z.string().min(1),
      ranges: z.array(z.strictObject({ start: z.string(), end: z.string() })),
      timing: z.enum(['max', 'original']),
      speed: z.number().positive(),
      /** Block time the start instant stands for (timing original). */
      firstBlockTimeSec: z.number(),
    }),
  ]),
  /** Block height the run starts after (the commit stream subscribes from here + 1). */
  fromHeight: z.number().int().nonnegative(),
  /** Keep-alive connections per endpoint (default 16) and batches outstanding on each (default 1). */
  connections: connectionCount().optional(),
  pipelining: pipelineDepth().optional(),
});

export type TpslabBeaconConfig = z.infer<typeof TpslabBeaconSchema>;
