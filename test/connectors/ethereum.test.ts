// The conformance suite against a real EVM: Hardhat's EDR in the devnet process, behind two
// JSON-RPC front processes (two endpoints to one chain). Stalling freezes the EDR process
// (SIGSTOP), so blocks stop and both endpoints hang; killing an endpoint kills its front.
// A refused transaction is one from an unfunded wallet: eth_sendRawTransaction answers
// "insufficient funds". Confirmation here follows newHeads over the node's WebSocket (the ganache
// run, ethereum-ganache.test.ts, covers polling).
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { startDevnet } from '../../src/connectors/ethereum/devnet.js';
import { connectorConformance } from './conformance.js';

const ROOT_ENV = 'TPSLAB_TEST_ETH_ROOT_KEY';

connectorConformance('ethereum', async () => {
  const key = generatePrivateKey();
  process.env[ROOT_ENV] = key;
  const devnet = await startDevnet({ root: privateKeyToAddress(key), chainId: 31337, blockTimeMs: 200, fronts: 2 });
  return {
    options: { kind: 'ethereum', rpc: devnet.fronts.map((f) => f.url), ws: [devnet.url.replace(/^http/, 'ws')], rootKeyEnv: ROOT_ENV, timeoutMs: 3000 },
    accounts: 10,
    stall: async (ms) => {
      process.kill(devnet.pid, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, ms));
      process.kill(devnet.pid, 'SIGCONT');
    },
    killEndpoint: async (i) => {
      process.kill(devnet.fronts[i]!.pid, 'SIGKILL');
    },
    close: async () => devnet.stop(),
  };
});
