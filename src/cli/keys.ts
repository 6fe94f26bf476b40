import type { Command } from 'commander';
import { keyFileJson, writeKeyFile } from '../client/key-file.js';
import { generateKeyPair } from '../protocol/signing.js';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('manage Ed25519 account keys');
  keys
    .command('new')
    .description('create a new account key; prints its address')
    .option('--out <file>', 'write the key file here (mode 0600, never overwritten); without it the key JSON goes to stdout')
    .addHelpText('after', '\nExample:\n  tpslab keys new --out alice.key.json')
    .action(async (o: { out?: string }) => {
      const key = generateKeyPair();
      if (o.out) {
        await writeKeyFile(o.out, key);
        console.log(key.address);
      } else {
        process.stdout.write(keyFileJson(key));
      }
    });
}
