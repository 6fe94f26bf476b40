import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { netDown, netUp, type NetworkFile } from '../../src/ledger/net.js';
import { encodeAddress } from '../../src/protocol/address.js';
import { account, assertError, http, mapLimit } from '../e2e/helpers.js';
import { tempDir, testAccounts } from '../testkit/index.js';
import { ServiceProcess } from './service-process.js';

const ONBOARD = 1000;
const AMOUNT = 5000n;

describe('faucet (real network, faucet as a child process)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let net: NetworkFile;
  let faucet: ServiceProcess;

  before(async () => {
    dir = await tempDir('tpslab-faucet-');
    net = await netUp({ dir: dir.path, nodes: 1, blockIntervalMs: 10 });
    faucet = await ServiceProcess.start(
      ['faucet', '--network', join(dir.path, 'network.json'), '--data', join(dir.path, 'faucet'), '--per-client', String(ONBOARD + 1), '--per-account', '1', '--amount', String(AMOUNT), '--max-amount', String(AMOUNT * 2n)],
      join(dir.path, 'faucet'),
    );
  });
  after(async () => {
    await faucet?.kill('SIGKILL');
    await netDown(dir.path);
    await dir.remove();
  });

  const fund = (address: string, requestId?: string, amount?: bigint) =>
    http(faucet.url, '/v1/fund', { json: { address, ...(requestId ? { requestId } : {}), ...(amount ? { amount: amount.toString() } : {}) } });

  it(`onboards ${ONBOARD} accounts, each funded once on the ledger`, async () => {
    const keys = testAccounts('faucet-onboard', ONBOARD);
    const answers = await mapLimit(keys, 100, (k, i) => fund(k.address, `onboard-${i}`));
    for (const r of answers) assert.equal(r.status, 200, r.text);
    assert.ok(answers.every((r) => (r.body as { status: string }).status === 'committed'));
    const node = net.nodes[0]!.url;
    for (const k of [keys[0]!, keys[499]!, keys[ONBOARD - 1]!]) assert.equal((await account(node, k.address)).balance, AMOUNT);
    const metrics = (await http(faucet.url, '/metrics')).text;
    assert.match(metrics, new RegExp(`tpslab_faucet_grants_total\\{outcome="committed"\\} ${ONBOARD}\\b`));
  });

  it('a repeated request id does not pay twice; reused with another address it is refused', async () => {
    const addr = testAccounts('faucet-onboard', 1)[0]!.address;
    const again = await fund(addr, 'onboard-0');
    assert.equal(again.status, 200, again.text);
    assert.equal(again.headers.get('idempotent-replay'), 'true');
    assert.equal((await account(net.nodes[0]!.url, addr)).balance, AMOUNT);
    const other = encodeAddress(testAccounts('faucet-other', 1)[0]!.publicKey);
    assertError(await fund(other, 'onboard-0'), 409, 'TPSLAB_E_REQUEST_ID_REUSED', /onboard-0/);
  });

  it('over the per-account limit: 429 with Retry-After', async () => {
    const addr = testAccounts('faucet-onboard', 2)[1]!.address;
    const r = await fund(addr, 'second-grant');
    const e = assertError(r, 429, 'TPSLAB_E_RATE_LIMITED', /account/);
    assert.equal(e.details?.limit, 'account');
    assert.ok(Number(r.headers.get('retry-after')) > 0);
  });

  it('over the per-client limit: 429, and the limit still holds after a kill -9 and restart', async () => {
    const [a, b, c] = testAccounts('faucet-late', 3);
    assert.equal((await fund(a!.address, 'late-a')).status, 200);
    const r = await fund(b!.address, 'late-b');
    assert.equal((assertError(r, 429, 'TPSLAB_E_RATE_LIMITED', /client/).details?.limit), 'client');
    assert.ok(Number(r.headers.get('retry-after')) > 3000, 'retry after the hour window, not at once');
    await faucet.restart('SIGKILL');
    assertError(await fund(c!.address, 'late-c'), 429, 'TPSLAB_E_RATE_LIMITED');
    // Idempotency survives the restart too.
    const replay = await fund(a!.address, 'late-a');
    assert.equal(replay.status, 200, replay.text);
    assert.equal((await account(net.nodes[0]!.url, a!.address)).balance, AMOUNT);
    assert.equal((await http(faucet.url, '/v1/requests/late-a')).status, 200);
  });

  it('bad input: clear codes, nothing paid', async () => {
    assertError(await fund('tps1nope', 'bad-1'), 400, 'TPSLAB_E_BAD_ADDRESS');
    assertError(await fund(testAccounts('faucet-big', 1)[0]!.address, 'bad-2', AMOUNT * 3n), 400, 'TPSLAB_E_BAD_REQUEST', /more than this faucet pays/);
    assertError(await http(faucet.url, '/v1/fund', { json: { adress: 'x' } }), 400, 'TPSLAB_E_BAD_REQUEST', /body/);
    assert.equal((await http(faucet.url, '/v1/requests/bad-1')).status, 404);
  });
});
