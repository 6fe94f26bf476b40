/** Starts the example REST ledger (scenarios/examples/http-ledger.mjs) for tests. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER = resolve(fileURLToPath(import.meta.url), '../../../../scenarios/examples/http-ledger.mjs');
export const ACCOUNTS = 20;

export interface LedgerProcess {
  pid: number;
  gateways: { pid: number; port: number }[];
  stop(): void;
}

/** Starts the example REST ledger with `gateways` gateways on free ports. */
export function startHttpLedger(gateways = 2, extra: string[] = []): Promise<LedgerProcess> {
  const child = spawn(process.execPath, [SERVER, '--gateways', String(gateways), '--accounts', String(ACCOUNTS), ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolveStart, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the http ledger did not start within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`the http ledger exited (${code})`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (!out.includes('\n') || !line) return;
      clearTimeout(timer);
      const info = JSON.parse(line) as { pid: number; gateways: { pid: number; port: number }[] };
      resolveStart({ ...info, stop: () => child.kill('SIGKILL') });
    });
  });
}

export const httpTargetOptions = (ports: number[]): Record<string, unknown> => ({
  kind: 'http',
  endpoints: ports.map((p) => `http://127.0.0.1:${p}`),
  request: { method: 'POST', path: '/v1/transfers', headers: { 'content-type': 'application/json' }, body: '{"id":"{{uuid}}","from":{{account}},"to":{{target}},"amount":{{amount}}}' },
  success: { status: [202], knownStatus: [409] },
  confirm: { path: '/v1/transfers/{{id}}', intervalMs: 50, until: { path: 'status', equals: 'committed' }, failWhen: { path: 'status', equals: 'failed' } },
  health: '/health',
  timeoutMs: 5000,
});
