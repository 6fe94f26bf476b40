/** The `tpslab` connector: the reference network, embedded or running. */
import { resolve } from 'node:path';
import type { ConnectorDefinition } from '../contract.js';
import { TpslabBeacon } from './beacon.js';
import { TpslabBeaconSchema, TpslabTargetSchema, type TpslabBeaconConfig, type TpslabTargetOptions } from './schema.js';
import { TpslabTarget } from './target.js';

export const tpslabConnector: ConnectorDefinition<TpslabTargetOptions, TpslabBeaconConfig> = {
  kind: 'tpslab',
  workloads: ['transfer', 'message', 'replay'],
  targetSchema: TpslabTargetSchema,
  beaconSchema: TpslabBeaconSchema,
  resolvePaths: (o, baseDir) => ({
    ...o,
    ...(o.network ? { network: resolve(baseDir, o.network) } : {}),
    ...(o.faucetKey ? { faucetKey: resolve(baseDir, o.faucetKey) } : {}),
    ...(o.genesis ? { genesis: resolve(baseDir, o.genesis) } : {}),
  }),
  createTarget: (o, run, clock) => new TpslabTarget(o, run, clock),
  createBeacon: (c, ctx) => new TpslabBeacon(c, ctx),
};
