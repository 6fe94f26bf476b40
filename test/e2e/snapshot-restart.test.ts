/**
 * A node restart from a snapshot: `--snapshot-every` writes snapshots while the node commits,
 * the restarted node says from which snapshot it recovered and how long that took, and every
 * transaction committed before is still committed at the same place (the on-disk index).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyPair } from '../../src/protocol/signing.js';
import { NodeProcess, tempDir, testAccounts, waitFor } from '../testkit/index.js';
import { getJson, hex, postJsonTx, status, transfer, type HeadBody, type StatusBody } from './helpers.js';

describe('restart from a snapshot', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let node: NodeProcess;
  let faucet: KeyPair;
  let network: string;

  before(async () => {
    dir = await tempDir('tpslab-e2e-snapshot-');
    node = await NodeProcess.start(dir.path, ['--snapshot-every', '2', '--block-interval-ms', '1']);
    faucet = await node.faucetKey();
    network = (await getJson<HeadBody>(node.url, '/v1/head')).network;
  });

  after(async () => {
    await node?.kill('SIGKILL');
    await dir?.remove();
  });

  it('restarts from the latest snapshot, logs it, and keeps every committed transaction where it was', async () => {
    const [to] = testAccounts('snapshot-restart', 1);
    const committed = new Map<string, StatusBody>();
    for (let nonce = 0n; nonce < 7n; nonce++) { // one block each (waited for): 7 blocks
      const tx = transfer(faucet, to!, 10n, nonce, network);
      const r = await postJsonTx(node.url, tx, true);
      assert.equal(r.status, 200, r.text);
      committed.set(hex(tx), await status(node.url, hex(tx)));
    }
    const head = await getJson<HeadBody>(node.url, '/v1/head');
    const latest = head.height - (head.height % 2);
    // Snapshots are written in the background once their block is durable; the newest two are kept.
    await waitFor(`snapshots at ${latest - 2} and ${latest}`, async () => {
      const snaps = (await readdir(join(dir.path, 'snapshots'))).filter((n) => n.endsWith('.snap')).sort();
      return snaps.length === 2 && snaps.map((n) => Number(n.slice(0, 12))).join() === `${latest - 2},${latest}`;
    });

    node.output = '';
    await node.restart();
    assert.match(node.output, new RegExp(`recovered in \\d+ ms: snapshot at height ${latest} \\+ ${head.height - latest} blocks replayed from the log`));
    assert.equal((await getJson<HeadBody>(node.url, '/v1/head')).height, head.height);
    for (const [id, before] of committed) {
      const s = await status(node.url, id);
      assert.equal(s.status, 'committed');
      assert.deepEqual([s.height, s.index], [before.height, before.index]);
    }
    const again = await postJsonTx(node.url, transfer(faucet, to!, 10n, 0n, network));
    assert.equal(again.status, 409, again.text); // already committed: refused as a duplicate, as before the restart
  });
});
