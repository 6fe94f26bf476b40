/**
 * The services `tpslab net up --with` can start next to the network, in the
 * order they start (the balancer first, so the others could use it).
 */
import { TpslabError } from '../errors.js';

export const SERVICE_ORDER = ['lb', 'faucet', 'indexer'] as const;
export type ServiceName = (typeof SERVICE_ORDER)[number];

/** Parses `--with lb,faucet,indexer`. */
export function parseServices(text: string): ServiceName[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const bad = names.filter((n) => !(SERVICE_ORDER as readonly string[]).includes(n));
  if (bad.length > 0) throw new TpslabError('TPSLAB_E_USAGE', `--with: unknown service(s) ${bad.map((b) => `"${b}"`).join(', ')}; choose from ${SERVICE_ORDER.join(', ')}`);
  return [...new Set(names)] as ServiceName[];
}
