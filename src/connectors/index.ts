/**
 * Every connector tpslab ships, by `target.kind`. The harness looks connectors
 * up here and nowhere else. Adding one: a folder with its schema, target side
 * and beacon side, one line here, and the conformance suite (docs/connectors.md).
 */
import { TpslabError } from '../errors.js';
import type { ConnectorDefinition } from './contract.js';
import { ethereumConnector } from './ethereum/index.js';
import { httpConnector } from './http/index.js';
import { tpslabConnector } from './tpslab/index.js';

export const CONNECTORS: Readonly<Record<string, ConnectorDefinition<never, never>>> = {
  tpslab: tpslabConnector as unknown as ConnectorDefinition<never, never>,
  http: httpConnector as unknown as ConnectorDefinition<never, never>,
  ethereum: ethereumConnector as unknown as ConnectorDefinition<never, never>,
};

export function connectorFor(kind: string): ConnectorDefinition<unknown, unknown> {
  const c = CONNECTORS[kind];
  if (!c) throw new TpslabError('TPSLAB_E_CONNECTOR', `no connector for target.kind "${kind}"; available: ${Object.keys(CONNECTORS).join(', ')}`);
  return c as unknown as ConnectorDefinition<unknown, unknown>;
}

export type * from './contract.js';
