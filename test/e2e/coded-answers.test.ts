/**
 * Regression tests for answers that escaped the project's codes: the
 * framework's and the HTTP parser's own errors, a too-large body answered
 * while the client was still sending (EPIPE), and creations of what exists
 * admitted with 202 only to fail later.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { signTx, type KeyPair } from '../../src/protocol/signing.js';
import { NodeProcess, tempDir } from '../testkit/index.js';
import { account, assertError, createTopic, getJson, hex, http, postBinaryTx, postJsonTx, status, type HeadBody } from './helpers.js';

describe('every answer carries a tpslab code', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let node: NodeProcess;
  let url: string;
  let faucet: KeyPair;
  let network: string;

  before(async () => {
    dir = await tempDir('tpslab-e2e-coded-');
    node = await NodeProcess.start(`${dir.path}/node`);
    url = node.url;
    faucet = await node.faucetKey();
    network = (await getJson<HeadBody>(url, '/v1/head')).network;
  });

  after(async () => {
    await node?.kill('SIGKILL');
    await dir?.remove();
  });

  it('a path parameter over 100 characters got fastify 414 FST_ERR_MAX_PARAM_LENGTH; now 414 TPSLAB_E_TOO_LARGE', async () => {
    assertError(await http(url, `/v1/accounts/${'a'.repeat(120)}`), 414, 'TPSLAB_E_TOO_LARGE', /100 characters/);
    assertError(await http(url, `/v1/tx/${'b'.repeat(101)}`), 414, 'TPSLAB_E_TOO_LARGE');
  });

  it('/v1/tx/%ZZ got fastify 400 FST_ERR_BAD_URL; now 400 TPSLAB_E_BAD_REQUEST', async () => {
    assertError(await http(url, '/v1/tx/%ZZ'), 400, 'TPSLAB_E_BAD_REQUEST', /%-escape/);
  });

  it('a 60 KB URL got a bare 431 from the HTTP parser; now 431 with TPSLAB_E_TOO_LARGE, and the node serves on', async () => {
    assertError(await http(url, `/v1/head?pad=${'x'.repeat(60_000)}`), 431, 'TPSLAB_E_TOO_LARGE', /URL/);
    assert.equal((await http(url, '/health')).status, 200);
  });

  it('a 33 MiB body: the client saw EPIPE before the 413; now it finishes sending and reads 413 TPSLAB_E_TOO_LARGE', async () => {
    // The EPIPE was a race (about one request in three): send several, each must get the coded answer.
    const body = new Uint8Array(33 * 1024 * 1024);
    for (let round = 0; round < 2; round++) {
      for (const path of ['/v1/txs', '/v1/tx']) {
        for (const contentType of ['application/octet-stream', 'application/json']) {
          assertError(await http(url, path, { binary: body, contentType }), 413, 'TPSLAB_E_TOO_LARGE');
        }
      }
    }
    assert.equal((await http(url, '/health')).status, 200);
  });

  it('create-account for an existing account was 202 then failed; now 409 TPSLAB_E_ACCOUNT_EXISTS at ingress, nothing stored', async () => {
    const before = await account(url, faucet.address);
    const tx = signTx({ kind: 'create-account', nonce: before.nonce, fee: 0n, deps: [], from: faucet.publicKey, account: faucet.publicKey }, [faucet], network);
    assertError(await postJsonTx(url, tx), 409, 'TPSLAB_E_ACCOUNT_EXISTS', /already exists/);
    assertError(await postBinaryTx(url, tx.bytes), 409, 'TPSLAB_E_ACCOUNT_EXISTS');
    assert.equal((await status(url, hex(tx))).status, 'unknown');
    assert.deepEqual(await account(url, faucet.address), before);
  });

  it('create-topic for an existing topic was 202 then failed; now 409 TPSLAB_E_TOPIC_EXISTS at ingress, nothing stored', async () => {
    const n = (await account(url, faucet.address)).nonce;
    const first = await postJsonTx(url, createTopic(faucet, 'coded-topic', n, network), true);
    assert.equal(first.status, 200, first.text);
    const again = createTopic(faucet, 'coded-topic', n + 1n, network);
    assertError(await postJsonTx(url, again), 409, 'TPSLAB_E_TOPIC_EXISTS', /coded-topic/);
    assert.equal((await status(url, hex(again))).status, 'unknown');
    assert.equal((await account(url, faucet.address)).nonce, n + 1n);
  });
});
