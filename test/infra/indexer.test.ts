import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NodeClient } from '../../src/client/node-client.js';
import { readKeyFile } from '../../src/client/key-file.js';
import { netDown, netUp, type NetworkFile } from '../../src/ledger/net.js';
import { signTx, type KeyPair } from '../../src/protocol/signing.js';
import { createTopic, getJson, http, message, transfer, type BlockBody } from '../e2e/helpers.js';
import { fund, tempDir, testAccounts, waitFor } from '../testkit/index.js';
import { startPostgres, type TestPostgres } from './postgres.js';
import { ServiceProcess } from './service-process.js';

const SENDERS = 12;
const ROUNDS = 6;

interface Row {
  cursor: string;
  height: number;
  txIndex: number;
  txId: string;
  kind: string;
  direction: string;
  amount: string;
  fee: string;
  balanceAfter: string;
  seq?: string;
}

/** What the blocks say: per account, the ids of the transactions touching it, one per leg, in chain order. */
async function expectedLegs(node: string, head: number, faucet: string): Promise<Map<string, string[]>> {
  const legs = new Map<string, string[]>([[faucet, ['genesis']]]);
  const add = (a: string, id: string): void => void legs.set(a, [...(legs.get(a) ?? []), id]);
  for (let h = 1; h <= head; h++) {
    const b = await getJson<BlockBody & { txs: { id: string; kind: string; from?: string; account?: string }[] }>(node, `/v1/blocks/${h}`);
    for (const tx of b.txs) {
      if (tx.kind === 'transfer') for (const e of [...tx.inputs!, ...tx.outputs!]) add(e.account, tx.id);
      else {
        add(tx.from!, tx.id);
        if (tx.account) add(tx.account, tx.id);
      }
    }
  }
  return legs;
}

async function allRows(url: string, address: string): Promise<Row[]> {
  const out: Row[] = [];
  let after: string | null = null;
  for (let i = 0; i < 100; i++) {
    const page: { items: Row[]; next: string | null } = await getJson(url, `/v1/accounts/${address}/history?limit=7${after ? `&after=${after}` : ''}`);
    out.push(...page.items);
    after = page.next;
    if (!after) return out;
  }
  throw new Error('history did not end within 100 pages');
}

function indexerSuite(kind: 'sqlite' | 'postgres'): void {
  describe(`indexer on ${kind}: history equals the blocks, exactly once across a kill -9`, () => {
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let net: NetworkFile;
    let pg: TestPostgres | undefined;
    let indexer: ServiceProcess;
    let faucet: KeyPair;
    const accounts = testAccounts(`indexer-${kind}`, SENDERS);

    before(async () => {
      dir = await tempDir(`tpslab-indexer-${kind}-`);
      net = await netUp({ dir: dir.path, nodes: 2, blockIntervalMs: 10 });
      faucet = await readKeyFile(net.faucetKey);
      if (kind === 'postgres') pg = await startPostgres();
      const db = pg ? pg.url : `sqlite:${join(dir.path, 'index.db')}`;
      indexer = await ServiceProcess.start(['indexer', '--network', net.dir, '--data', join(dir.path, 'indexer'), '--db', db], join(dir.path, 'indexer'));
    });
    after(async () => {
      await indexer?.kill('SIGKILL');
      await netDown(dir.path);
      await pg?.stop();
      await dir.remove();
    });

    it('indexes transfers, account creation, topics and messages; a kill -9 mid-run leaves no gap and no duplicate', async () => {
      const client = new NodeClient(net.nodes[0]!.url);
      await fund(client, faucet, accounts, 1_000_000n);
      const network = net.network;
      const nonces = accounts.map(() => 0n);
      const next = (i: number): bigint => {
        const n = nonces[i]!;
        nonces[i] = n + 1n;
        return n;
      };
      const [poster] = accounts;
      const created = testAccounts(`indexer-${kind}-created`, 1)[0]!;
      const create = signTx({ kind: 'create-account', nonce: next(0), fee: 0n, deps: [], from: poster!.publicKey, account: created.publicKey }, [poster!], network);
      assert.equal((await client.submit(create, { waitMs: 20_000 })).status, 'committed');
      await client.submit(createTopic(poster!, 'news', next(0), network), { waitMs: 20_000 });
      for (let round = 0; round < ROUNDS; round++) {
        const txs = accounts.map((k, i) => transfer(k, accounts[(i + round + 1) % SENDERS]!, BigInt(10 + round), next(i), network));
        txs.push(message(poster!, 'news', Buffer.from(`round ${round}`), next(0), network));
        const res = await new NodeClient(net.nodes[round % 2]!.url).submitBatch(txs);
        assert.equal(res.accepted, txs.length, JSON.stringify(res.results.filter((r) => 'error' in r)));
        if (round === 2) await indexer.restart('SIGKILL');
        await waitFor(`round ${round} to commit`, async () => (await client.status(txs[txs.length - 1]!.id.toString('hex'))).status === 'committed');
      }
      const head = (await client.head()).height;
      await waitFor(`the indexer to reach height ${head}`, async () => ((await getJson<{ height: number }>(indexer.url, '/health')).height >= head ? true : undefined), 30_000);

      const expected = await expectedLegs(net.nodes[1]!.url, head, faucet.address);
      for (const k of [faucet, ...accounts.slice(0, 4), accounts[SENDERS - 1]!, created]) {
        const rows = await allRows(indexer.url, k.address);
        assert.deepEqual(rows.map((r) => r.txId), expected.get(k.address), `history of ${k.address}`);
        const cursors = rows.map((r) => BigInt(r.cursor));
        assert.deepEqual(cursors, [...cursors].sort((a, b) => (a < b ? -1 : 1)), 'cursors increase');
        const onNode = await client.account(k.address);
        assert.equal(BigInt(rows[rows.length - 1]!.balanceAfter), onNode.balance, `balance of ${k.address}`);
        assert.equal((await getJson<{ balance: string }>(indexer.url, `/v1/accounts/${k.address}`)).balance, onNode.balance.toString());
      }
      const posterRows = await allRows(indexer.url, poster!.address);
      assert.deepEqual(posterRows.filter((r) => r.kind === 'message').map((r) => r.seq), Array.from({ length: ROUNDS }, (_, i) => String(i)));

      const csv = await http(indexer.url, `/v1/accounts/${poster!.address}/history.csv`);
      assert.equal(csv.status, 200);
      assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
      const lines = csv.text.trimEnd().split('\n');
      assert.equal(lines[0], 'cursor,height,tx_index,tx_id,kind,direction,amount,fee,counterparty,balance_after,topic,seq,timestamp_ms');
      assert.equal(lines.length, posterRows.length + 1);
      const metrics = (await http(indexer.url, '/metrics')).text;
      assert.match(metrics, /tpslab_indexer_lag_blocks \d+/);
      assert.match(metrics, new RegExp(`tpslab_indexer_height ${head}\\b`));
    });

    it('bad queries get clear errors', async () => {
      const a = accounts[0]!.address;
      assert.equal((await http(indexer.url, `/v1/accounts/${a}/history?limit=0`)).status, 400);
      assert.equal((await http(indexer.url, `/v1/accounts/${a}/history?after=abc`)).status, 400);
      assert.equal(((await http(indexer.url, '/v1/accounts/tps1bad/history')).body as { error: { code: string } }).error.code, 'TPSLAB_E_BAD_ADDRESS');
    });
  });
}

indexerSuite('sqlite');
indexerSuite('postgres');
