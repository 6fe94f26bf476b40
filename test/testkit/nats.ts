/**
 * A real nats-server (Debian's) on 127.0.0.1 with a port the OS picks: started
 * with `-p -1 --ports_file_dir DIR`, the bound port read back from the ports file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from './index.js';

export interface NatsServer {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startNatsServer(dir: string, extraArgs: string[] = []): Promise<NatsServer> {
  const child: ChildProcess = spawn('nats-server', ['-a', '127.0.0.1', '-p', '-1', '--ports_file_dir', dir, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(new Error(`cannot start nats-server (apt-get install nats-server): ${e.message}`)));
  });
  await spawned;
  const file = join(dir, `nats-server_${child.pid}.ports`);
  const url = await waitFor(`nats-server's ports file ${file}`, async () => {
    if (!(await readdir(dir)).includes(`nats-server_${child.pid}.ports`)) return undefined;
    const ports = JSON.parse(await readFile(file, 'utf8')) as { nats?: string[] };
    return ports.nats?.[0];
  }, 10_000);
  return {
    url,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
