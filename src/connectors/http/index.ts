/** The `http` connector: any REST API through request templates. */
import type { ConnectorDefinition } from '../contract.js';
import { HttpBeacon } from './beacon.js';
import { HttpBeaconSchema, HttpTargetSchema, type HttpBeaconConfig, type HttpTargetOptions } from './schema.js';
import { HttpTarget } from './target.js';

export const httpConnector: ConnectorDefinition<HttpTargetOptions, HttpBeaconConfig> = {
  kind: 'http',
  workloads: ['transfer'],
  targetSchema: HttpTargetSchema,
  beaconSchema: HttpBeaconSchema,
  createTarget: (o, run) => new HttpTarget(o, run),
  createBeacon: (c, ctx) => new HttpBeacon(c, ctx),
};
