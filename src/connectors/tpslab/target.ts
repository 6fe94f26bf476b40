/**
 * The overseer side of the `tpslab` connector: an embedded network started for
 * the run (torn down after), or a running one (a network file from `net up`, or
 * endpoints and a faucet key); the run's accounts funded from the faucet and
 * topics created; the chain's height as the cursor; reconciliation from blocks.
 * A replay starts the embedded network on its dataset's genesis, funds nothing,
 * gives each beacon its shard ranges, and checks the dataset's order in the blocks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../clock.js';
import { readKeyFile } from '../../client/key-file.js';
import { NodeClient, type BatchResult } from '../../client/node-client.js';
import { TpslabError, asTpslabError } from '../../errors.js';
import { netUp, readNetworkFile, stopProcesses, type NetworkFile } from '../../ledger/net.js';
import type { HealthJson } from '../../protocol/api.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../../protocol/signing.js';
import type { SignedTx } from '../../protocol/tx.js';
import type { BeaconShareSpec, Capabilities, CommittedSet, Cursor, Log, NodeRow, ProvisionProgress, RunSpec, TargetConnector, TargetInfo, TargetRole, VisitCommitted } from '../contract.js';
import { rotate } from '../rotate.js';
import type { DatasetHeader } from '../../dataset/format.js';
import { committedFromBlocks } from './committed.js';
import { beaconShardRanges, checkDataset, datasetGenesisPath, datasetSenders, replayNotes, scanReplayBlocks } from './replay-check.js';
import type { TpslabBeaconConfig, TpslabTargetOptions } from './schema.js';

const OUTPUTS_PER_FUNDING_TX = 1000;
const FUNDING_BATCH = 500;
const PROVISION_TIMEOUT_MS = 120_000;

/** The run's deterministic account keys: same network and seed, same accounts. */
export function keySeedOf(network: string, seed: number): string {
  return `tpslab:${network}:${seed}`;
}

export function accountKey(keySeed: string, index: number): KeyPair {
  return keyPairFromLabel(`${keySeed}:${index}`);
}

/** Topic names of a message workload. */
export function topicNames(seed: number, topics: number): string[] {
  return Array.from({ length: topics }, (_, k) => `s${seed}-t${k}`);
}

export class TpslabTarget implements TargetConnector {
  readonly kind = 'tpslab';
  readonly capabilities: Capabilities = {
    reconcile: true,
    confirms: true,
    limits: ['Byzantine behaviour is not tested: the reference network is crash-fault tolerant.'],
  };
  private info: TargetInfo | undefined;
  private faucet: KeyPair | undefined;
  private teardown: (() => Promise<void>) | undefined;
  /** Every account's nonce is 0: a fresh embedded network. */
  private fresh = false;
  /** The embedded network's directory (its network.json), for fault injection (src/faults); undefined for a network tpslab did not start. */
  networkDir: string | undefined;
  /** A replay's dataset header, read by preflight. */
  private dataset: DatasetHeader | undefined;

  constructor(
    private readonly o: TpslabTargetOptions,
    private readonly run: RunSpec,
    private readonly clock: Clock,
  ) {}

  private get network(): string {
    if (!this.info) throw new TpslabError('TPSLAB_E_INTERNAL', 'the tpslab target is not open');
    return this.info.network;
  }

  get keySeed(): string {
    return keySeedOf(this.network, this.run.seed);
  }

  /** The genesis an embedded network starts on: target.genesis, a replay's dataset genesis, or a fresh development one (undefined). */
  private get genesis(): string | undefined {
    const replay = this.run.workload.replay;
    return this.o.genesis ?? (replay ? datasetGenesisPath(replay.dataset) : undefined);
  }

  private get embedded(): boolean {
    return !this.o.network && !this.o.endpoints;
  }

  /** The key file and network file must be readable before anything starts; a replay's dataset complete, its genesis its network's. */
  async preflight(): Promise<void> {
    const replay = this.run.workload.replay;
    if (this.o.genesis && !replay) throw new TpslabError('TPSLAB_E_CONFIG', `target.genesis (${this.o.genesis}) is for replay workloads: a network on another genesis has no faucet to fund the run's accounts; remove it`);
    if (replay) this.dataset = await checkDataset(replay.dataset, this.embedded ? this.genesis : undefined);
    if (this.o.network) {
      // A network on a dataset's genesis has no faucet key: a replay needs none.
      const faucetKey = (await readNetworkFile(this.o.network)).faucetKey;
      if (faucetKey || !replay) await readKeyFile(faucetKey);
    }
    else if (this.o.faucetKey) await readKeyFile(this.o.faucetKey);
  }

  async open(log: Log): Promise<TargetInfo> {
    if (this.o.network) return this.attachNetworkFile(this.o.network);
    if (this.o.endpoints) return this.attach(this.o.endpoints, this.o.faucetKey!, this.o.endpoints.map((url, i) => ({ id: `endpoint${i + 1}`, role: 'endpoint', url })));
    const dir = await mkdtemp(join(tmpdir(), 'tpslab-net-'));
    log(`starting an embedded network of ${this.o.nodes} nodes in ${dir}`);
    let net: NetworkFile;
    try {
      net = await netUp({ dir, nodes: this.o.nodes, blockIntervalMs: this.o.blockIntervalMs, ...(this.genesis ? { genesis: this.genesis } : {}) });
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    this.networkDir = dir;
    this.teardown = async () => {
      const now = await readNetworkFile(dir).catch(() => net); // a role restarted by a fault has a new pid
      await stopProcesses(now.nodes);
      await stopProcesses([now.sequencer, now.tracker]);
      await rm(dir, { recursive: true, force: true });
    };
    this.fresh = true;
    if (net.faucetKey) this.faucet = await readKeyFile(net.faucetKey);
    this.info = { network: net.network, endpoints: net.nodes.map((n) => n.url), roles: roles(net), embedded: true };
    return this.info;
  }

  private async attachNetworkFile(file: string): Promise<TargetInfo> {
    const net = await readNetworkFile(file);
    return this.attach(
      net.nodes.map((n) => n.url),
      net.faucetKey,
      roles(net),
    );
  }

  private async attach(endpoints: string[], faucetKey: string, roleList: TargetRole[]): Promise<TargetInfo> {
    if (faucetKey || !this.run.workload.replay) this.faucet = await readKeyFile(faucetKey);
    const head = await firstHead(endpoints);
    if (this.dataset && head.network !== this.dataset.ledgerNetwork) {
      throw new TpslabError('TPSLAB_E_DATASET', `the network at ${endpoints[0]} is "${head.network}", but the dataset is signed for "${this.dataset.ledgerNetwork}"; start a network on the dataset's genesis (tpslab net up --genesis, or an embedded target)`);
    }
    this.info = { network: head.network, endpoints, roles: roleList, embedded: false };
    return this.info;
  }

  /** A client of the first endpoint that answers (the target side fails over too). */
  private async client(): Promise<NodeClient> {
    const problems: string[] = [];
    for (const url of this.info!.endpoints) {
      const c = new NodeClient(url);
      const up = await c.head().then(
        () => true,
        (err: unknown) => void problems.push(`${url} (${asTpslabError(err).message})`),
      );
      if (up) return c;
    }
    throw new TpslabError('TPSLAB_E_UNAVAILABLE', `no node of the network answers: ${problems.join('; ')}`);
  }

  /** Funds every account with `accounts.balance` (and creates topics); waits until all of it is committed. */
  async provision(progress: (p: ProvisionProgress) => void, log: Log): Promise<void> {
    if (this.run.workload.replay) return log('replay: nothing to fund, the dataset\'s genesis funded its accounts');
    const { accounts, workload, seed } = this.run;
    const client = await this.client();
    const faucet = this.faucet!;
    let nonce = (await client.account(faucet.address)).nonce;
    const balance = BigInt(accounts.balance);
    const keySeed = this.keySeed;
    const txs: SignedTx[] = [];
    for (let start = 0; start < accounts.count; start += OUTPUTS_PER_FUNDING_TX) {
      const end = Math.min(accounts.count, start + OUTPUTS_PER_FUNDING_TX);
      const outputs = [];
      for (let i = start; i < end; i++) outputs.push({ account: accountKey(keySeed, i).publicKey, amount: balance });
      const total = balance * BigInt(outputs.length);
      txs.push(signTx({ kind: 'transfer', nonce: nonce++, fee: 0n, deps: [], inputs: [{ account: faucet.publicKey, amount: total }], outputs }, [faucet], this.network));
      progress({ step: 'signing funding transactions', done: end, total: accounts.count });
    }
    const topics = workload.kind === 'message' ? topicNames(seed, workload.topics) : [];
    for (const topic of topics) {
      // A rerun with the same seed finds its topics already there.
      const exists = await client.topic(topic).then(
        () => true,
        () => false,
      );
      if (exists) continue;
      txs.push(signTx({ kind: 'create-topic', nonce: nonce++, fee: 0n, deps: [], from: faucet.publicKey, topic }, [faucet], this.network));
    }
    log(`funding ${accounts.count} accounts${topics.length ? ` and creating ${topics.length} topics` : ''} (${txs.length} transaction${txs.length === 1 ? '' : 's'})`);
    for (let k = 0; k < txs.length; k += FUNDING_BATCH) {
      const r = await submitFunding(client, txs.slice(k, k + FUNDING_BATCH));
      // DUPLICATE: a resend after a lost answer finds its transactions already taken.
      const bad = r.results.find((x) => 'error' in x && x.error.code !== 'TPSLAB_E_TOPIC_EXISTS' && x.error.code !== 'TPSLAB_E_DUPLICATE');
      if (bad && 'error' in bad) throw new TpslabError('TPSLAB_E_PROVISION', `provisioning was refused: ${bad.error.code} ${bad.error.message}`);
    }
    const deadline = this.clock.now() + PROVISION_TIMEOUT_MS;
    let confirmed = 0;
    for (const tx of txs) {
      for (;;) {
        const st = await client.status(tx.id.toString('hex')).catch((e: unknown) => ({ status: 'error', id: tx.id.toString('hex'), error: asTpslabError(e) }) as const);
        if (st.status === 'committed') break;
        if (st.status === 'failed' && tx.body.kind === 'create-topic' && st.error?.code === 'TPSLAB_E_TOPIC_EXISTS') break;
        if (st.status === 'failed') throw new TpslabError('TPSLAB_E_PROVISION', `provisioning transaction ${st.id} failed: ${st.error?.code} ${st.error?.message}`);
        if (this.clock.now() > deadline) throw new TpslabError('TPSLAB_E_PROVISION', `provisioning did not commit within ${PROVISION_TIMEOUT_MS / 1000} s (transaction ${tx.id.toString('hex')} is ${st.status})`);
        await new Promise<void>((r) => this.clock.setTimeout(r, 100));
      }
      progress({ step: 'waiting for funding to commit', done: ++confirmed, total: txs.length });
    }
  }

  async cursor(): Promise<Cursor> {
    return { position: (await (await this.client()).head()).height };
  }

  beaconConfig(share: BeaconShareSpec): TpslabBeaconConfig {
    const info = this.info!;
    const w = this.run.workload;
    const replay = w.replay;
    const workload: TpslabBeaconConfig['workload'] = replay
      ? { kind: 'replay', ...replay, ranges: beaconShardRanges(share.beacon, share.beacons ?? 1), firstBlockTimeSec: this.dataset!.firstBlockTimeSec }
      : w.kind === 'message'
        ? { kind: 'message', topics: topicNames(this.run.seed, w.topics), payloadBytes: w.payloadBytes, fee: w.fee }
        : { kind: 'transfer', amount: w.amount, fee: w.fee };
    return {
      network: info.network,
      endpoints: rotate(info.endpoints, share.endpointOffset),
      keySeed: this.keySeed,
      accounts: share.accounts,
      freshAccounts: this.fresh,
      workload,
      fromHeight: share.start.position,
      connections: this.o.connections,
      pipelining: this.o.pipelining,
    };
  }

  /** Reads blocks after `from` up to the furthest head of any endpoint (beacons follow different ones). */
  async committed(from: Cursor): Promise<CommittedSet> {
    const ids = new Set<string>();
    const r = await this.visitCommitted(from, (id) => void ids.add(id));
    return { ...r, ids };
  }

  /** Streams what committed from the run's senders after `from`, each with its height and sender number. */
  async visitCommitted(from: Cursor, visit: VisitCommitted): Promise<Omit<CommittedSet, 'ids'>> {
    const heads = await Promise.all(this.info!.endpoints.map((e) => new NodeClient(e).head().then((h) => ({ e, height: h.height }), () => ({ e, height: -1 }))));
    const ahead = heads.reduce((a, b) => (b.height > a.height ? b : a));
    if (ahead.height < 0) throw new TpslabError('TPSLAB_E_UNAVAILABLE', `no endpoint answered /v1/head to reconcile (${this.info!.endpoints.join(', ')})`);
    const replay = this.run.workload.replay;
    if (replay) {
      const blocks = await scanReplayBlocks({ endpoint: ahead.e, fromHeight: from.position, toHeight: ahead.height, senders: await datasetSenders(replay.dataset) }, visit);
      return { fromPosition: from.position, toPosition: ahead.height, notes: replayNotes(blocks, this.dataset!) };
    }
    const senders = new Map<string, number>();
    for (let i = 0; i < this.run.accounts.count; i++) senders.set(accountKey(this.keySeed, i).publicKey.toString('hex'), i);
    await committedFromBlocks({ endpoint: ahead.e, fromHeight: from.position, toHeight: ahead.height, senders }, visit);
    return { fromPosition: from.position, toPosition: ahead.height };
  }

  accountName(index: number): string {
    // A replay's sender numbers are the top 32 bits of the sender's key (replay-source.ts): its first 4 bytes, in hex.
    if (this.run.workload.replay) return `${index.toString(16).padStart(8, '0')}…`;
    return accountKey(this.keySeed, index).address;
  }

  async nodes(): Promise<NodeRow[]> {
    return Promise.all(
      (this.info?.roles ?? []).map(async (r) => {
        const health = await fetch(`${r.url}/health`, { signal: AbortSignal.timeout(2000) }).then(
          async (res) => ({ ok: res.ok, body: (await res.json()) as Partial<HealthJson> }),
          () => ({ ok: false, body: {} as Partial<HealthJson> }),
        );
        const stats = await fetch(`${r.url}/stats`, { signal: AbortSignal.timeout(2000) }).then(
          (res) => res.json() as Promise<unknown>,
          () => null,
        );
        return { node: r.id, url: r.url, role: r.role, ...(health.body.height !== undefined ? { head: health.body.height } : {}), healthy: health.ok, stats };
      }),
    );
  }

  async close(): Promise<void> {
    const t = this.teardown;
    this.teardown = undefined;
    await t?.();
  }
}

function roles(net: NetworkFile): TargetRole[] {
  return [net.sequencer, ...net.nodes, net.tracker].map((p) => ({ id: p.id, role: p.role, url: p.url }));
}

/** The head of the first endpoint that is a tpslab node; a clear error when none is. */
async function firstHead(endpoints: readonly string[]): Promise<{ network: string; height: number }> {
  const problems: string[] = [];
  for (const url of endpoints) {
    try {
      const head = await new NodeClient(url).head();
      if (typeof head?.network === 'string' && typeof head.height === 'number') return head;
      problems.push(`${url}: /v1/head did not answer like a tpslab node`);
    } catch (err) {
      const e = asTpslabError(err);
      problems.push(`${url}: ${e.code === 'TPSLAB_E_REMOTE' ? 'not a tpslab node (its /v1/head is not the node API)' : e.message}`);
    }
  }
  throw new TpslabError('TPSLAB_E_UNAVAILABLE', `no endpoint is a reachable tpslab node: ${problems.join('; ')}. Check target.endpoints (or start a network with "tpslab net up")`);
}

/** Attempts at one funding batch when the node cannot be reached (same bytes each time: the ids make a resend safe). */
const FUNDING_ATTEMPTS = 3;

async function submitFunding(client: NodeClient, txs: readonly SignedTx[]): Promise<BatchResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.submitBatch(txs);
    } catch (err) {
      if (attempt >= FUNDING_ATTEMPTS || asTpslabError(err).code !== 'TPSLAB_E_UNAVAILABLE') throw err;
    }
  }
}
