/** The `ethereum` connector: any Ethereum JSON-RPC network, or an embedded EDR devnet. */
import type { ConnectorDefinition } from '../contract.js';
import { EthereumBeacon } from './beacon.js';
import { EthereumBeaconSchema, EthereumTargetSchema, type EthereumBeaconConfig, type EthereumTargetOptions } from './schema.js';
import { EthereumTarget, resolveEthereumPaths } from './target.js';

export const ethereumConnector: ConnectorDefinition<EthereumTargetOptions, EthereumBeaconConfig> = {
  kind: 'ethereum',
  workloads: ['transfer'],
  targetSchema: EthereumTargetSchema,
  beaconSchema: EthereumBeaconSchema,
  resolvePaths: resolveEthereumPaths,
  createTarget: (o, run, clock) => new EthereumTarget(o, run, clock),
  createBeacon: (c, ctx) => new EthereumBeacon(c, ctx),
};
