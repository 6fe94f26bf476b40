/**
 * Regression test: a node replayed its whole block log before answering HTTP
 * (most of a 7–20 s restart), so health checks could not tell "recovering"
 * from "dead". It now listens first and answers 503 "recovering" with its
 * progress until the replay is done.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ChainStore } from '../../src/ledger/chain-store.js';
import { ensureDevGenesis } from '../../src/ledger/dev-genesis.js';
import { encodeBlock, makeBlock } from '../../src/protocol/block.js';
import { CLI, tempDir, waitFor } from '../testkit/index.js';
import { http } from './helpers.js';

/** Blocks in the log: enough that replaying them takes a noticeable while. */
const BLOCKS = 40_000;

/** Writes `count` empty blocks to a node's data directory, as a sequencer would have. */
async function writeLog(dataDir: string, count: number): Promise<void> {
  const dev = await ensureDevGenesis(dataDir);
  // No snapshots: this log has to be replayed whole (as one written before snapshots existed).
  const chain = await ChainStore.open(dataDir, dev.genesis, { fsync: false, snapshotEveryBlocks: 0 });
  let pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const state = chain.state;
    const height = state.height + 1;
    const prevHash = state.headHash;
    const stateHash = state.seal(height);
    const block = makeBlock({ height, prevHash, timestampMs: dev.genesis.timestampMs, stateHash, txs: [] });
    state.setHead(block.hash);
    chain.index(block, []);
    pending.push(chain.persist(block, encodeBlock(block)));
    if (pending.length >= 2000) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  await chain.close();
}

describe('start-up', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let child: ChildProcess | undefined;

  before(async () => {
    dir = await tempDir('tpslab-e2e-recovering-');
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    await dir?.remove();
  });

  it('replayed the whole log before answering HTTP; now /health answers 503 recovering (height N of M) and other routes 503 TPSLAB_E_UNAVAILABLE meanwhile', async (t) => {
    const data = join(dir.path, 'node');
    await writeLog(data, BLOCKS);
    child = spawn(process.execPath, [CLI, 'node', '--data', data, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const url = await waitFor('the node to say where it listens while recovering', () => /recovering on (http:\/\/\S+):/.exec(output)?.[1], 20_000, 5);

    const seen: { status: number; body: { status?: string; height?: number; of?: number } }[] = [];
    let unavailable: unknown;
    await waitFor('the node to finish replaying and be healthy', async () => {
      const h = await http(url, '/health');
      seen.push({ status: h.status, body: h.body as (typeof seen)[number]['body'] });
      if (h.status === 503 && unavailable === undefined) {
        const head = await http(url, '/v1/head');
        if (head.status === 503) unavailable = head.body;
      }
      return h.status === 200;
    }, 120_000, 5);

    const recovering = seen.filter((s) => s.status === 503);
    t.diagnostic(`${recovering.length} answers while recovering, e.g. ${JSON.stringify(recovering.at(-1)?.body)}`);
    assert.ok(recovering.length > 0, `no answer while recovering; output:\n${output}`);
    for (const r of recovering) {
      assert.equal(r.body.status, 'recovering');
      assert.ok(r.body.height! >= 0 && r.body.height! <= r.body.of!, JSON.stringify(r.body));
    }
    assert.ok(recovering.some((r) => r.body.of === BLOCKS), 'the log size was never reported');
    assert.deepEqual((unavailable as { error: { code: string } } | undefined)?.error.code, 'TPSLAB_E_UNAVAILABLE');
    const final = seen.at(-1)!;
    assert.equal(final.body.status, 'ok');
    assert.equal(final.body.height, BLOCKS);
  });
});
