/**
 * Replicated ordering, in one process against a real nats-server (JetStream, R1): two sequencers and a
 * node. What a node must resend to the next leader when the one holding its transactions goes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseGenesis } from '../../src/ledger/genesis.js';
import { serveLedger, type RunningLedger } from '../../src/ledger/node.js';
import { Replica } from '../../src/ledger/replica.js';
import { ReplicatedSequencer } from '../../src/ledger/replicated-sequencer.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../../src/protocol/signing.js';
import type { SignedTx } from '../../src/protocol/tx.js';
import { tempDir, waitFor } from '../testkit/index.js';
import { startNatsServer, type NatsServer } from '../testkit/nats.js';

const from = keyPairFromLabel('resend-from');
const to = keyPairFromLabel('resend-to');
const genesis = parseGenesis({ network: 'replicated-resend-test', accounts: [{ address: from.address, balance: '1000' }] });
const LEASE_MS = 600;

let dir: { path: string; remove(): Promise<void> };
let server: NatsServer;
const running: RunningLedger[] = [];

function transfer(sender: KeyPair, nonce: bigint): SignedTx {
  return signTx({ kind: 'transfer', nonce, fee: 0n, deps: [], inputs: [{ account: sender.publicKey, amount: 1n }], outputs: [{ account: to.publicKey, amount: 1n }] }, [sender], genesis.network);
}

async function sequencer(id: string): Promise<{ seq: ReplicatedSequencer; served: RunningLedger }> {
  const seq = await ReplicatedSequencer.open(`${dir.path}/${id}`, genesis, { blockIntervalMs: 20, fsync: false }, { nats: { url: server.url }, sequencerId: id, leaseMs: LEASE_MS, replicas: 1 });
  const served = await serveLedger(seq, { dataDir: `${dir.path}/${id}`, host: '127.0.0.1', port: 0 });
  running.push(served);
  seq.start(served.url);
  return { seq, served };
}

before(async () => {
  dir = await tempDir('tpslab-replicated-resend-');
  server = await startNatsServer(dir.path, ['-js', '-sd', `${dir.path}/js`]);
});

after(async () => {
  for (const r of running.reverse()) await r.close().catch(() => {});
  await server.stop();
  await dir.remove();
});

describe('replicated ordering: resending after a change of leader', () => {
  it('a transaction the leader answered DUPLICATE (already pending there) is resent to the next leader (stall after a NATS server kill)', async () => {
    const a = await sequencer('A');
    await waitFor('A to lead', () => a.seq.leaderTerm !== undefined, 15_000);
    const b = await sequencer('B');
    const node = await Replica.open(`${dir.path}/node`, genesis, { sequencerUrl: `${a.served.url},${b.served.url}`, fsync: false });
    running.push(await serveLedger(node, { dataDir: `${dir.path}/node`, host: '127.0.0.1', port: 0 }));
    await waitFor('the node to follow the chain', () => node.unavailableReason === undefined, 15_000);

    // Nonce 1 before nonce 0: the leader holds it as a future nonce. It reached the leader first by
    // another way (an earlier forward whose answer was lost, another node), so the node's forward of it
    // is answered DUPLICATE. The node must still count it as pending under that leader.
    const later = transfer(from, 1n);
    assert.deepEqual(await a.seq.submitMany([later]), [undefined]);
    const [dup] = await node.submitMany([later]);
    assert.equal(dup?.code, 'TPSLAB_E_DUPLICATE');

    // The leader goes with its mempool; B leads the next term.
    await a.served.close();
    running.splice(running.indexOf(a.served), 1);
    await waitFor('B to lead', () => b.seq.leaderTerm !== undefined, 15_000);

    // Nonce 0 arrives: with nonce 1 resent to B, both commit; had the node forgotten it, nonce 1 would
    // be a hole for ever and every later transaction of this sender would wait behind it.
    const first = transfer(from, 0n);
    await waitFor('the node to take nonce 0 under the new leader', async () => {
      const [e] = await node.submitMany([first]);
      return e === undefined || e.code === 'TPSLAB_E_DUPLICATE';
    }, 15_000, 100);
    const done = await waitFor('nonce 1 to commit on the node', () => {
      const s = node.status(later.id);
      return s.status === 'committed' || s.status === 'failed' ? s : undefined;
    }, 15_000, 50);
    assert.equal(done.status, 'committed', JSON.stringify(done));
    assert.equal(node.status(first.id).status, 'committed');
  });
});
