/**
 * A development genesis: a fresh network id, a faucet key written beside it,
 * and the faucet funded. Used when a node or network starts without --genesis.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeKeyFile } from '../client/key-file.js';
import { generateKeyPair } from '../protocol/signing.js';
import { loadGenesis, type Genesis, type GenesisJson } from './genesis.js';

export const DEV_FAUCET_BALANCE = 10n ** 18n;

export interface DevGenesis {
  genesis: Genesis;
  genesisPath: string;
  faucetKeyPath: string;
  created: boolean;
}

/** Loads `<dir>/genesis.json`, creating it (and `<dir>/faucet.key.json`) the first time. */
export async function ensureDevGenesis(dir: string): Promise<DevGenesis> {
  await mkdir(dir, { recursive: true });
  const genesisPath = join(dir, 'genesis.json');
  const faucetKeyPath = join(dir, 'faucet.key.json');
  let created = false;
  try {
    await access(genesisPath);
  } catch {
    const faucet = generateKeyPair();
    const json: GenesisJson = {
      network: `tpslab-dev-${randomBytes(4).toString('hex')}`,
      timestampMs: Date.now(),
      params: { minFee: '0', maxPayloadBytes: 4096 },
      faucet: faucet.address,
      accounts: [{ address: faucet.address, balance: DEV_FAUCET_BALANCE.toString() }],
    };
    await writeKeyFile(faucetKeyPath, faucet);
    await writeFile(genesisPath, `${JSON.stringify(json, null, 2)}\n`, { flag: 'wx' });
    created = true;
  }
  return { genesis: await loadGenesis(genesisPath), genesisPath, faucetKeyPath, created };
}
