import type { Command } from 'commander';
import { TpslabError, isErrorCode } from '../errors.js';

/** `tpslab node drain`: asks a node on this host to leave balancers' pools (or, with --undo, to rejoin). */
export function registerNodeDrain(node: Command): void {
  node
    .command('drain')
    .description("make a node on this host leave balancers' pools gracefully before maintenance (it keeps serving; /health says draining)")
    .requiredOption('--node <url>', 'the node, on 127.0.0.1 (the drain endpoint answers loopback callers only)')
    .option('--undo', 'end draining: the node rejoins the pools')
    .addHelpText('after', '\nExample:\n  tpslab node drain --node http://127.0.0.1:8545 && <maintenance> && tpslab node drain --node http://127.0.0.1:8545 --undo')
    .action(async (o: { node: string; undo?: boolean }) => {
      const url = `${o.node.replace(/\/+$/, '')}/admin/drain`;
      let res: Response;
      try {
        res = await fetch(url, { method: o.undo ? 'DELETE' : 'POST' });
      } catch (err) {
        throw new TpslabError('TPSLAB_E_UNAVAILABLE', `cannot reach the node at ${o.node}: ${(err as Error).message}`, { cause: err });
      }
      const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
      if (!res.ok) {
        const e = body?.error;
        throw new TpslabError(e && isErrorCode(e.code) ? e.code : 'TPSLAB_E_REMOTE', e?.message ?? `${url} answered HTTP ${res.status}`);
      }
      console.log(o.undo ? `${o.node} is no longer draining; balancers add it back at their next health check` : `${o.node} is draining: balancers stop sending it new clients at their next health check`);
    });
}
