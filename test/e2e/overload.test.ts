/**
 * Regression tests for a node that did not shed load: concurrent hostile
 * batches (well-formed, bad signatures, inside every documented limit) that
 * took a node to 2.8 GiB and timed out /health, and a node that refused fresh
 * work for 32 s after an overload stopped.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBatch } from '../../src/protocol/batch.js';
import { keyPairFromLabel } from '../../src/protocol/signing.js';
import { NodeProcess, fund, tempDir, testAccounts, waitFor } from '../testkit/index.js';
import { getJson, hex, http, postBinaryTx, status, transfer, waitCommitted, type BatchBody, type HeadBody, type HttpResult } from './helpers.js';

interface Stats {
  memory: { rssBytes: number };
  ingress: { inFlightBytes: number; inFlightTxs: number };
  tx: { rejectedByCode: Record<string, number> };
}

const MiB = 1024 * 1024;

describe('hostile batches', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let node: NodeProcess;

  before(async () => {
    dir = await tempDir('tpslab-e2e-hostile-');
    node = await NodeProcess.start(`${dir.path}/node`);
  });

  after(async () => {
    await node?.kill('SIGKILL');
    await dir?.remove();
  });

  it('32 concurrent batches of 10,000 badly signed transfers grew RSS to GiBs and starved /health; now shed with 429 + Retry-After, /health answers, RSS stays bounded', async (t) => {
    const url = node.url;
    const network = (await getJson<HeadBody>(url, '/v1/head')).network;
    const from = keyPairFromLabel('hostile-from');
    const to = keyPairFromLabel('hostile-to');
    // Well-formed transfers whose signatures do not verify: one flipped byte at the end (in the signature).
    const parts = Array.from({ length: 10_000 }, (_, i) => {
      const bytes = Buffer.from(transfer(from, to, 1n, BigInt(i), network).bytes);
      bytes[bytes.length - 1]! ^= 0xff;
      return bytes;
    });
    const body = encodeBatch(parts);
    assert.ok(body.length > 1.5 * MiB && body.length < 32 * MiB, `batch is ${body.length} bytes`);
    const rssBefore = (await getJson<Stats>(url, '/stats')).memory.rssBytes;

    let done = false;
    const healthChecks: number[] = [];
    const probing = (async () => {
      // Bounded: at most 200 probes, each with its own abort.
      for (let i = 0; i < 200 && !done; i++) {
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        healthChecks.push(res.status);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const answers: HttpResult[] = await Promise.all(Array.from({ length: 32 }, () => http(url, '/v1/txs', { binary: body })));
    done = true;
    await probing;

    const shed = answers.filter((a) => a.status === 429);
    const judged = answers.filter((a) => a.status === 200);
    assert.equal(shed.length + judged.length, answers.length, `unexpected statuses: ${answers.map((a) => a.status).join(',')}`);
    assert.ok(shed.length > 0, 'nothing was shed');
    assert.ok(judged.length > 0, 'nothing was judged');
    for (const a of shed) {
      assert.equal(a.headers.get('retry-after'), '1');
      assert.equal((a.body as { error: { code: string } }).error.code, 'TPSLAB_E_MEMPOOL_FULL');
    }
    for (const a of judged) {
      const b = a.body as BatchBody;
      assert.equal(b.rejected, 10_000);
      assert.equal(b.results[0]!.error!.code, 'TPSLAB_E_BAD_SIGNATURE');
    }
    assert.ok(healthChecks.length > 0 && healthChecks.every((s) => s === 200), `health answered ${healthChecks.join(',')}`);

    const stats = await getJson<Stats>(url, '/stats');
    assert.deepEqual(stats.ingress, { ...stats.ingress, inFlightBytes: 0, inFlightTxs: 0 }, 'the budget was not given back');
    const rssAfter = stats.memory.rssBytes;
    t.diagnostic(`RSS before ${(rssBefore / MiB).toFixed(0)} MiB, after ${(rssAfter / MiB).toFixed(0)} MiB; ${shed.length} of 32 shed, ${healthChecks.length} health probes all 200`);
    // Generous: the unbounded node reached 2.8 GiB with 64 such batches.
    assert.ok(rssAfter < 768 * MiB, `RSS after the batches is ${(rssAfter / MiB).toFixed(0)} MiB`);
    // The node still takes ordinary work.
    assert.equal((await http(url, '/health')).status, 200);
  });
});

describe('overload recovery', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let node: NodeProcess;

  before(async () => {
    dir = await tempDir('tpslab-e2e-recovery-');
    node = await NodeProcess.start(`${dir.path}/node`, ['--mempool-capacity', '200']);
  });

  after(async () => {
    await node?.kill('SIGKILL');
    await dir?.remove();
  });

  it('after an overload a fresh valid transaction was refused 429 for 32 s (successors of refused nonces filled the mempool); now it is admitted within 2 s', async (t) => {
    const url = node.url;
    const network = (await getJson<HeadBody>(url, '/v1/head')).network;
    const senders = testAccounts('recover', 20);
    const [fresh] = testAccounts('recover-fresh', 1);
    const faucet = await node.faucetKey();
    await fund(node.client, faucet, [...senders, fresh!], 1000n);
    const to = keyPairFromLabel('recover-to');
    const txs = senders.map((a) => Array.from({ length: 11 }, (_, n) => transfer(a, to, 1n, BigInt(n), network)));

    // The overload, as it arrives at a full node: each sender's later nonces get in while space frees
    // (they wait for nonce 0), and then nonce 0 is refused because the mempool is full.
    const later = await http(url, '/v1/txs', { binary: encodeBatch(txs.flatMap((s) => s.slice(1)).map((x) => x.bytes)) });
    assert.equal((later.body as BatchBody).accepted, 200, later.text);
    const firsts = await http(url, '/v1/txs', { binary: encodeBatch(txs.map((s) => s[0]!.bytes)) });
    assert.equal(firsts.status, 429, firsts.text);
    // The first refusal sheds that sender's 10 waiting successors, which makes room for the next nonce 0.
    assert.equal((firsts.body as BatchBody).results[0]!.error?.code, 'TPSLAB_E_MEMPOOL_FULL');
    const stoppedAt = Date.now();

    // The load has stopped: fresh work is admitted at once (the unrunnable successors were shed).
    const ok = await waitFor('a fresh transfer to be admitted after the load stopped', async () => {
      const r = await postBinaryTx(url, transfer(fresh!, to, 1n, 0n, network).bytes);
      return r.status === 202 ? r : undefined;
    }, 2000, 100);
    t.diagnostic(`fresh transaction admitted ${Date.now() - stoppedAt} ms after the load stopped`);
    assert.equal(ok.status, 202);
    await waitCommitted(url, [hex(transfer(fresh!, to, 1n, 0n, network))]);

    // The shed successors are reported failed with the reason (retryable: send again), not left pending.
    const shed = await status(url, hex(txs[0]![5]!));
    assert.equal(shed.status, 'failed');
    assert.equal(shed.error?.code, 'TPSLAB_E_PREDECESSOR_REFUSED');
    // A sender that sends again from its refused nonce commits everything.
    const again = await http(url, '/v1/txs', { binary: encodeBatch(txs[0]!.map((x) => x.bytes)) });
    assert.equal(again.status, 200, again.text);
    await waitCommitted(url, txs[0]!.map(hex));
  });
});
