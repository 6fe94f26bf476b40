/**
 * An in-process chain for ledger tests: a genesis funding a few deterministic accounts,
 * and a way to commit transfers and topic messages through a real Sequencer on a real data directory.
 */
import { parseGenesis, type Genesis } from '../../src/ledger/genesis.js';
import { Sequencer, type SequencerConfig } from '../../src/ledger/sequencer.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../../src/protocol/signing.js';
import type { SignedTx } from '../../src/protocol/tx.js';

export const NETWORK = 'tpslab-chain-test';
export const SENDERS: readonly KeyPair[] = Array.from({ length: 4 }, (_, i) => keyPairFromLabel(`chain-test-${i}`));

export function chainGenesis(): Genesis {
  return parseGenesis({
    network: NETWORK,
    timestampMs: 1_700_000_000_000,
    params: { minFee: '0', maxPayloadBytes: 1024 },
    accounts: SENDERS.map((k) => ({ address: k.address, balance: '1000000000' })),
  });
}

/** Transfers from every sender, `perSender` each, nonces from `firstNonce`. */
export function transfers(perSender: number, firstNonce = 0n): SignedTx[] {
  const out: SignedTx[] = [];
  for (let n = 0; n < perSender; n++) {
    SENDERS.forEach((from, s) => {
      const to = SENDERS[(s + 1) % SENDERS.length]!;
      out.push(signTx({ kind: 'transfer', nonce: firstNonce + BigInt(n), fee: 0n, deps: [], inputs: [{ account: from.publicKey, amount: 1n }], outputs: [{ account: to.publicKey, amount: 1n }] }, [from], NETWORK));
    });
  }
  return out;
}

export function createTopic(from: KeyPair, topic: string, nonce: bigint): SignedTx {
  return signTx({ kind: 'create-topic', nonce, fee: 0n, deps: [], from: from.publicKey, topic }, [from], NETWORK);
}

export function message(from: KeyPair, topic: string, nonce: bigint): SignedTx {
  return signTx({ kind: 'message', nonce, fee: 0n, deps: [], from: from.publicKey, topic, payload: Buffer.from(`m${nonce}`) }, [from], NETWORK);
}

export function openSequencer(dataDir: string, config: SequencerConfig = {}): Promise<Sequencer> {
  return Sequencer.open(dataDir, chainGenesis(), { blockIntervalMs: 2, blockMaxTxs: 8, ...config });
}

/** Submits `txs` one by one and resolves once every one is in a durable block. */
export async function commitAll(seq: Sequencer, txs: readonly SignedTx[]): Promise<void> {
  const waiting = new Set(txs.map((tx) => tx.id.toString('latin1')));
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${waiting.size} transactions not committed within 20 s`)), 20_000);
    const onCommit = ({ block }: { block: { txs: readonly SignedTx[] } }): void => {
      for (const tx of block.txs) waiting.delete(tx.id.toString('latin1'));
      if (waiting.size === 0) {
        clearTimeout(timer);
        seq.off('commit', onCommit);
        resolve();
      }
    };
    seq.on('commit', onCommit);
    seq.on('failed', (f) => reject(new Error(`failed: ${f.code} ${f.message}`)));
  });
  for (const tx of txs) seq.submit(tx);
  await done;
}
