/**
 * Testkit: start real tpslab processes on 127.0.0.1 port 0, read back their
 * endpoints, poll conditions under a named timeout, and clean up after.
 * Used by tests and benchmarks alike.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeClient } from '../../src/client/node-client.js';
import { TpslabError } from '../../src/errors.js';
import { readKeyFile } from '../../src/client/key-file.js';
import type { Endpoint } from '../../src/ledger/node.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../../src/protocol/signing.js';
import { descendants } from './proc-rss.js';

/** The compiled CLI entry point. */
export const CLI = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');
/** The entry that loads only the ledger roles (node, sequencer, tracker): what `net up` starts them with. */
export const ROLE_CLI = resolve(fileURLToPath(import.meta.url), '../../../src/cli/role-main.js');

export class TimeoutError extends Error {}

/** Polls `check` until it returns a value other than undefined/false, or fails naming what was awaited. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function tempDir(prefix = 'tpslab-test-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true, maxRetries: 5 }) };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A CLI child process still running: its output so far, and its exit code once it has closed. */
export interface CliChild {
  readonly child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  readonly exited: Promise<number | null>;
}

/** Starts the CLI (in `cwd` if given) and collects its output as it comes; the caller ends it. */
export function spawnCli(args: string[], cwd?: string): CliChild {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  const out = { child, stdout: '', stderr: '', exited: new Promise<number | null>((r) => child.on('close', (code) => r(code))) };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  return out;
}

/** Runs the CLI to completion (bounded by timeoutMs), in `cwd` if given. */
export function runCli(args: string[], timeoutMs = 30_000, cwd?: string): Promise<CliResult> {
  const cli = spawnCli(args, cwd);
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      // Its network's roles and beacons too: left running, they would load the machine for the tests after.
      // Stopped first, so it starts nothing new (a fault's restart) while its children are listed.
      cli.child.kill('SIGSTOP');
      const left = cli.child.pid ? descendants(cli.child.pid) : [];
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      cli.child.kill('SIGKILL');
      reject(new TimeoutError(`tpslab ${args.join(' ')} did not finish in ${timeoutMs} ms (killed with ${left.length} processes under it)\n${cli.stdout}\n${cli.stderr}`));
    }, timeoutMs);
    void cli.exited.then((code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout: cli.stdout, stderr: cli.stderr });
    });
  });
}

/** How long a node started by the testkit may take to serve. */
const START_TIMEOUT_MS = 60_000;

/** A `tpslab node` child process on a data directory. */
export class NodeProcess {
  child: ChildProcess | undefined;
  endpoint!: Endpoint;
  output = '';

  private constructor(
    readonly dataDir: string,
    readonly extraArgs: string[],
    /** The entry point run: the full CLI, or `ROLE_CLI` (only the ledger roles, as `net up` starts them). */
    readonly cli = CLI,
  ) {}

  static async start(dataDir: string, extraArgs: string[] = [], cli = CLI): Promise<NodeProcess> {
    const n = new NodeProcess(dataDir, extraArgs, cli);
    await n.launch();
    return n;
  }

  get url(): string {
    return this.endpoint.url;
  }

  get client(): NodeClient {
    return new NodeClient(this.url);
  }

  get faucetKeyPath(): string {
    return join(this.dataDir, 'faucet.key.json');
  }

  faucetKey(): Promise<KeyPair> {
    return readKeyFile(this.faucetKeyPath);
  }

  private async launch(): Promise<void> {
    await rm(join(this.dataDir, 'endpoint.json'), { force: true });
    const child = spawn(process.execPath, [this.cli, 'node', '--data', this.dataDir, '--port', '0', ...this.extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    let exited = false;
    child.on('exit', () => (exited = true));
    try {
      // Generous: on a loaded 2-core machine a node's start-up alone has taken over 15 s.
      this.endpoint = await waitFor(`node in ${this.dataDir} to write endpoint.json`, async () => {
        if (exited) throw new Error(`node exited during start:\n${this.output}`);
        try {
          const e = JSON.parse(await readFile(join(this.dataDir, 'endpoint.json'), 'utf8')) as Endpoint;
          return e.pid === child.pid ? e : undefined;
        } catch {
          return undefined;
        }
      }, START_TIMEOUT_MS);
      await waitFor(`node ${this.endpoint.url} to be healthy`, () => this.client.healthy(), START_TIMEOUT_MS);
    } catch (err) {
      // A node left running keeps the test file's process alive: its lane hung after the test failed.
      child.kill('SIGKILL');
      throw err;
    }
  }

  /** Sends a signal and waits for the process to exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill('SIGTERM');
    await this.launch();
  }

  stop(): Promise<void> {
    return this.kill('SIGTERM');
  }
}

/** Deterministic accounts for tests: key pairs from labels. */
export function testAccounts(prefix: string, n: number): KeyPair[] {
  return Array.from({ length: n }, (_, i) => keyPairFromLabel(`${prefix}-${i}`));
}

/**
 * Funds `accounts` from the faucet with one multi-output transfer per 1,000
 * accounts and waits until those transfers are committed.
 */
export async function fund(client: NodeClient, faucet: KeyPair, accounts: readonly KeyPair[], amount: bigint): Promise<void> {
  const head = await client.head();
  let nonce = (await client.account(faucet.address)).nonce;
  for (let i = 0; i < accounts.length; i += 1000) {
    const chunk = accounts.slice(i, i + 1000);
    const total = amount * BigInt(chunk.length);
    const tx = signTx(
      { kind: 'transfer', nonce: nonce++, fee: 0n, deps: [], inputs: [{ account: faucet.publicKey, amount: total }], outputs: chunk.map((k) => ({ account: k.publicKey, amount })) },
      [faucet],
      head.network,
    );
    const s = await client.submit(tx, { waitMs: 30_000 });
    if (s.status !== 'committed') throw new Error(`funding transfer ${s.id} ended ${s.status}: ${JSON.stringify(s.error)}`);
  }
}

/** Runs `fn`, which must throw a TpslabError, and returns it. */
export function thrown(fn: () => unknown): TpslabError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TpslabError, String(err));
    return err;
  }
  assert.fail('expected a TpslabError');
}
