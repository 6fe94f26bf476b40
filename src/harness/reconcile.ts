/**
 * Reconciliation: what the beacons saw committed, against what the connector
 * says the network committed from the run's accounts after the run's start.
 * - missing: a beacon reported it committed, but the network does not have it (must be 0);
 * - unexpected: the network committed it, but no beacon saw it committed
 *   (typically recorded as lost after the confirmation timeout, or failed after a lost answer).
 */
import type { CommittedSet } from '../connectors/contract.js';
import type { Reconciliation } from '../web/contract.js';

/** `missingIds`/`unexpectedIds` hold a few ids of each kind, for the report. */
export type { Reconciliation };

const SAMPLE_IDS = 10;

export function reconcile(network: CommittedSet, beaconIds: ReadonlySet<string>): Reconciliation {
  const missingIds: string[] = [];
  let matched = 0;
  for (const id of beaconIds) {
    if (network.ids.has(id)) matched++;
    else missingIds.push(id);
  }
  const unexpectedIds: string[] = [];
  for (const id of network.ids) if (!beaconIds.has(id)) unexpectedIds.push(id);
  return {
    fromHeight: network.fromPosition,
    toHeight: network.toPosition,
    networkCommitted: network.ids.size,
    beaconCommitted: beaconIds.size,
    matched,
    missing: missingIds.length,
    unexpected: unexpectedIds.length,
    missingIds: missingIds.slice(0, SAMPLE_IDS),
    unexpectedIds: unexpectedIds.slice(0, SAMPLE_IDS),
  };
}
