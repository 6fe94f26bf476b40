/** Starts the embedded devnet (devnet-node.js) as a child process and stops it. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TpslabError } from '../../errors.js';

export interface Devnet {
  pid: number;
  /** The node's own JSON-RPC URL. */
  url: string;
  /** Front processes (separate endpoints to the same node). */
  fronts: { pid: number; url: string }[];
  stop(): Promise<void>;
}

export interface DevnetOptions {
  /** The funded root address (its key stays with the caller). */
  root: string;
  chainId: number;
  blockTimeMs: number;
  fronts?: number;
}

const START_TIMEOUT_MS = 30_000;

export function startDevnet(o: DevnetOptions): Promise<Devnet> {
  const script = fileURLToPath(new URL('./devnet-node.js', import.meta.url));
  const child = spawn(process.execPath, [script, '--root', o.root, '--chain-id', String(o.chainId), '--block-time-ms', String(o.blockTimeMs), '--fronts', String(o.fronts ?? 0)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT'); // a stalled devnet must wake to die
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new TpslabError('TPSLAB_E_UNAVAILABLE', `the embedded Ethereum devnet did not start within ${START_TIMEOUT_MS / 1000} s: ${stderr.trim() || 'no output'}`));
    }, START_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new TpslabError('TPSLAB_E_UNAVAILABLE', `the embedded Ethereum devnet exited (${code ?? signal}) before it listened: ${stderr.trim() || 'no output'}`));
    });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      const info = JSON.parse(out.split('\n')[0]!) as { pid: number; url: string; fronts: { pid: number; url: string }[] };
      resolve({ ...info, stop });
    });
  });
}
