/**
 * A long-running tpslab service (faucet, indexer, lb) as a child process:
 * started with its CLI, found through the endpoint.json it writes in its data
 * directory, stopped or killed by the test. No tests live here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Endpoint } from '../../src/ledger/node.js';
import { CLI, waitFor } from '../testkit/index.js';

export class ServiceProcess {
  child!: ChildProcess;
  endpoint!: Endpoint;
  output = '';

  private constructor(
    readonly args: string[],
    readonly dataDir: string,
  ) {}

  static async start(args: string[], dataDir: string, timeoutMs = 20_000): Promise<ServiceProcess> {
    const s = new ServiceProcess(args, dataDir);
    await s.launch(timeoutMs);
    return s;
  }

  get url(): string {
    return this.endpoint.url;
  }

  private async launch(timeoutMs: number): Promise<void> {
    await rm(join(this.dataDir, 'endpoint.json'), { force: true });
    const child = spawn(process.execPath, [CLI, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    let exited = false;
    child.on('exit', () => (exited = true));
    this.endpoint = await waitFor(
      `tpslab ${this.args[0]} to write ${this.dataDir}/endpoint.json`,
      async () => {
        if (exited) throw new Error(`tpslab ${this.args.join(' ')} exited during start:\n${this.output}`);
        try {
          const e = JSON.parse(await readFile(join(this.dataDir, 'endpoint.json'), 'utf8')) as Endpoint;
          return e.pid === child.pid ? e : undefined;
        } catch {
          return undefined;
        }
      },
      timeoutMs,
    );
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
  }

  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.kill(signal);
    await this.launch(20_000);
  }
}
