/**
 * Getting a target ready: an embedded network started for the run (torn down
 * after) or the endpoints of a running one; then the run's accounts created
 * and funded from the faucet, and topics created for message workloads.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readKeyFile } from '../client/key-file.js';
import { NodeClient } from '../client/node-client.js';
import { TpslabError, asTpslabError } from '../errors.js';
import { netUp, stopProcesses, type NetworkFile } from '../ledger/net.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../protocol/signing.js';
import type { SignedTx } from '../protocol/tx.js';
import type { Scenario } from './scenario.js';

export interface Target {
  network: string;
  endpoints: string[];
  faucet: KeyPair;
  /** Every process of an embedded network, for the report's node table. */
  roles: { id: string; role: string; url: string }[];
  /** The accounts are new (an embedded network): their nonces start at 0. */
  fresh: boolean;
  close(): Promise<void>;
}

const OUTPUTS_PER_FUNDING_TX = 1000;

export async function openTarget(s: Scenario, log: (line: string) => void): Promise<Target> {
  if (s.target.kind === 'embedded') {
    const dir = await mkdtemp(join(tmpdir(), 'tpslab-net-'));
    log(`starting an embedded network of ${s.target.nodes} nodes in ${dir}`);
    let net: NetworkFile;
    try {
      net = await netUp({ dir, nodes: s.target.nodes, blockIntervalMs: s.target.blockIntervalMs });
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return {
      network: net.network,
      endpoints: net.nodes.map((n) => n.url),
      faucet: await readKeyFile(net.faucetKey),
      roles: [net.sequencer, ...net.nodes, net.tracker].map((p) => ({ id: p.id, role: p.role, url: p.url })),
      fresh: true,
      close: async () => {
        await stopProcesses(net.nodes);
        await stopProcesses([net.sequencer, net.tracker]);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const faucet = await readKeyFile(s.target.faucetKey);
  const head = await new NodeClient(s.target.endpoints[0]!).head();
  return {
    network: head.network,
    endpoints: s.target.endpoints,
    faucet,
    roles: s.target.endpoints.map((url, i) => ({ id: `endpoint${i + 1}`, role: 'endpoint', url })),
    fresh: false,
    close: async () => {},
  };
}

/** The run's deterministic account keys: same network and seed, same accounts. */
export function keySeedOf(network: string, seed: number): string {
  return `tpslab:${network}:${seed}`;
}

export function accountKey(keySeed: string, index: number): KeyPair {
  return keyPairFromLabel(`${keySeed}:${index}`);
}

/** Topic names of a message workload. */
export function topicNames(s: Scenario): string[] {
  return s.workload.kind === 'message' ? Array.from({ length: s.workload.topics }, (_, k) => `s${s.seed}-t${k}`) : [];
}

/** Funds every account with `accounts.balance` (and creates topics); waits until all of it is committed. */
export async function provision(s: Scenario, target: Target, keySeed: string, log: (line: string) => void): Promise<void> {
  const client = new NodeClient(target.endpoints[0]!);
  const faucet = target.faucet;
  let nonce = (await client.account(faucet.address)).nonce;
  const balance = BigInt(s.accounts.balance);
  const txs: SignedTx[] = [];
  for (let start = 0; start < s.accounts.count; start += OUTPUTS_PER_FUNDING_TX) {
    const end = Math.min(s.accounts.count, start + OUTPUTS_PER_FUNDING_TX);
    const outputs = [];
    for (let i = start; i < end; i++) outputs.push({ account: accountKey(keySeed, i).publicKey, amount: balance });
    const total = balance * BigInt(outputs.length);
    txs.push(signTx({ kind: 'transfer', nonce: nonce++, fee: 0n, deps: [], inputs: [{ account: faucet.publicKey, amount: total }], outputs }, [faucet], target.network));
  }
  for (const topic of topicNames(s)) {
    // A rerun with the same seed finds its topics already there.
    const exists = await client.topic(topic).then(() => true, () => false);
    if (exists) continue;
    txs.push(signTx({ kind: 'create-topic', nonce: nonce++, fee: 0n, deps: [], from: faucet.publicKey, topic }, [faucet], target.network));
  }
  log(`funding ${s.accounts.count} accounts${topicNames(s).length ? ` and creating ${topicNames(s).length} topics` : ''} (${txs.length} transactions)`);
  for (let k = 0; k < txs.length; k += 500) {
    const r = await client.submitBatch(txs.slice(k, k + 500));
    const bad = r.results.find((x) => 'error' in x && x.error.code !== 'TPSLAB_E_TOPIC_EXISTS');
    if (bad && 'error' in bad) throw new TpslabError('TPSLAB_E_PROVISION', `provisioning was refused: ${bad.error.code} ${bad.error.message}`);
  }
  const deadline = Date.now() + 120_000;
  for (const tx of txs) {
    for (;;) {
      const st = await client.status(tx.id.toString('hex')).catch((e: unknown) => ({ status: 'error', error: asTpslabError(e) }) as const);
      if (st.status === 'committed') break;
      if (st.status === 'failed' && tx.body.kind === 'create-topic' && st.error?.code === 'TPSLAB_E_TOPIC_EXISTS') break;
      if (st.status === 'failed') throw new TpslabError('TPSLAB_E_PROVISION', `provisioning transaction ${st.id} failed: ${st.error?.code} ${st.error?.message}`);
      if (Date.now() > deadline) throw new TpslabError('TPSLAB_E_PROVISION', `provisioning did not commit within 120 s (transaction ${tx.id.toString('hex')} is ${st.status})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
