// The conformance suite against a second, independent EVM: ganache 7.9.2 (its own JavaScript
// EVM and pool; archived upstream), started from code in its own process behind two JSON-RPC
// fronts. Stall: SIGSTOP of the ganache process; endpoint death: SIGKILL of a front. It mines a
// block per transaction (instamine), so blocks are many and small.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { connectorConformance } from './conformance.js';

const ROOT_ENV = 'TPSLAB_TEST_GANACHE_ROOT_KEY';
const SCRIPT = fileURLToPath(new URL('./ganache-node.js', import.meta.url));

interface Ganache {
  pid: number;
  url: string;
  fronts: { pid: number; url: string }[];
}

function startGanache(root: string): Promise<Ganache & { stop(): void }> {
  const child = spawn(process.execPath, [SCRIPT, '--root', root, '--fronts', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('ganache did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`ganache exited (${code})`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      resolve({
        ...(JSON.parse(out.split('\n')[0]!) as Ganache),
        stop: () => {
          child.kill('SIGCONT');
          child.kill('SIGKILL');
        },
      });
    });
  });
}

connectorConformance('ethereum', async () => {
  const key = generatePrivateKey();
  process.env[ROOT_ENV] = key;
  const g = await startGanache(privateKeyToAddress(key));
  return {
    options: { kind: 'ethereum', rpc: g.fronts.map((f) => f.url), rootKeyEnv: ROOT_ENV, timeoutMs: 3000 },
    accounts: 10,
    stall: async (ms) => {
      process.kill(g.pid, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, ms));
      process.kill(g.pid, 'SIGCONT');
    },
    killEndpoint: async (i) => {
      process.kill(g.fronts[i]!.pid, 'SIGKILL');
    },
    close: async () => g.stop(),
  };
});
