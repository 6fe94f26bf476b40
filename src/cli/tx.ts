import { Option, type Command } from 'commander';
import { readKeyFile } from '../client/key-file.js';
import { NodeClient, type TxStatusJson } from '../client/node-client.js';
import { TpslabError, isErrorCode } from '../errors.js';
import { decodeAddress } from '../protocol/address.js';
import { signTx } from '../protocol/signing.js';
import { parseAmountOption, parseIntOption } from './common.js';

export interface TxSendOptions {
  node: string;
  key: string;
  to: string;
  amount: bigint;
  fee: bigint;
  nonce?: bigint;
  wait: boolean;
  timeoutMs: number;
}

export function registerTx(program: Command): void {
  const tx = program.command('tx').description('send transactions and look them up');
  tx.command('send')
    .description('sign and send a transfer; waits until it is committed (or fails) unless --no-wait')
    .requiredOption('--key <file>', 'key file of the sending account (see "tpslab keys new")')
    .requiredOption('--to <address>', 'receiving address (tps1...)')
    .requiredOption('--amount <n>', 'amount to transfer, a whole number of at least 1', parseAmountOption('--amount', 1n))
    // A bigint default needs a description: commander's help JSON.stringifies defaults otherwise (and throws).
    .addOption(new Option('--fee <n>', 'fee paid by the sender').argParser(parseAmountOption('--fee')).default(0n, '0'))
    .option('--nonce <n>', "sender nonce; default: the account's next nonce from the node", parseAmountOption('--nonce'))
    .option('--node <url>', 'node API base URL', 'http://127.0.0.1:8545')
    .option('--no-wait', 'return as soon as the node accepts the transaction')
    .option('--timeout-ms <ms>', 'how long to wait for the commit', parseIntOption('--timeout-ms', 1, 300_000), 30_000)
    .addHelpText('after', '\nExample:\n  tpslab tx send --node http://127.0.0.1:8545 --key faucet.key.json --to tps1... --amount 100')
    .action(async (o: TxSendOptions) => {
      const s = await sendTransfer(o);
      console.log(describeStatus(s));
      if (s.status === 'failed') throw new TpslabError(isErrorCode(s.error?.code) ? s.error.code : 'TPSLAB_E_REMOTE', s.error?.message ?? 'failed');
    });
  tx.command('status')
    .description("print a transaction's status: pending, committed (height, index), failed (reason) or unknown")
    .argument('<id>', 'transaction id (64 hex characters)')
    .option('--node <url>', 'node API base URL', 'http://127.0.0.1:8545')
    .action(async (id: string, o: { node: string }) => {
      if (!/^[0-9a-fA-F]{64}$/.test(id)) throw new TpslabError('TPSLAB_E_USAGE', `transaction id "${id.slice(0, 80)}" must be 64 hex characters (as printed by "tpslab tx send")`);
      console.log(describeStatus(await new NodeClient(o.node).status(id)));
    });
}

export async function sendTransfer(o: TxSendOptions): Promise<TxStatusJson> {
  const key = await readKeyFile(o.key);
  const to = decodeAddress(o.to, '--to');
  const client = new NodeClient(o.node);
  const head = await client.head();
  const nonce = o.nonce ?? (await client.account(key.address)).nonce;
  const signed = signTx(
    { kind: 'transfer', nonce, fee: o.fee, deps: [], inputs: [{ account: key.publicKey, amount: o.amount }], outputs: [{ account: to, amount: o.amount }] },
    [key],
    head.network,
  );
  return client.submit(signed, o.wait ? { waitMs: o.timeoutMs } : {});
}

export function describeStatus(s: TxStatusJson): string {
  switch (s.status) {
    case 'committed':
      return `committed ${s.id} at height ${s.height} index ${s.index}`;
    case 'failed':
      return `failed ${s.id}: ${s.error?.code} ${s.error?.message}`;
    default:
      return `${s.status} ${s.id}`;
  }
}
