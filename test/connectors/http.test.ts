// The conformance suite against a real HTTP API: the example ledger behind two gateway
// processes (scenarios/examples/http-ledger.mjs), driven through request templates.
import { connectorConformance } from './conformance.js';
import { ACCOUNTS, httpTargetOptions, startHttpLedger } from './http-ledger.js';

connectorConformance('http', async () => {
  const ledger = await startHttpLedger(2);
  return {
    options: httpTargetOptions(ledger.gateways.map((g) => g.port)),
    accounts: ACCOUNTS,
    stall: async (ms) => {
      process.kill(ledger.pid, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, ms));
      process.kill(ledger.pid, 'SIGCONT');
    },
    killEndpoint: async (i) => {
      process.kill(ledger.gateways[i]!.pid, 'SIGKILL');
    },
    close: async () => ledger.stop(),
  };
});
