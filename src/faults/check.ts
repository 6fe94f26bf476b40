/**
 * Cross-field rules of a scenario's `faults:` (called by checkScenario): process and link
 * faults need the embedded network, and name roles it has. Pure.
 */
import type { Scenario } from '../harness/scenario-schema.js';

export function checkFaults(s: Scenario): [(string | number)[], string][] {
  const out: [(string | number)[], string][] = [];
  const t = s.target;
  const embedded = t.kind === 'tpslab' && !t.endpoints && !t.network;
  const nodes = t.kind === 'tpslab' ? Array.from({ length: t.nodes }, (_, i) => `node${i + 1}`) : [];
  const roles = ['sequencer', 'tracker', ...nodes];
  (s.faults ?? []).forEach((f, i) => {
    if (f.kind === 'command') return;
    if (!embedded) {
      out.push([['faults', i, 'kind'], `"${f.kind}" faults act on the embedded network's processes; with this target use kind "command" (a command to run), or start the network from the scenario (target.kind tpslab without network or endpoints)`]);
      return;
    }
    if (f.role === undefined) return;
    const linkFault = f.kind === 'partition' || f.kind === 'latency' || f.kind === 'bandwidth';
    // A link fault names the role at the link's client end: a node, or the sequencer (sequencer-tracker).
    const fromSequencer = linkFault && f.link === 'sequencer-tracker';
    const valid = fromSequencer ? ['sequencer'] : linkFault ? nodes : roles;
    if (!valid.includes(f.role)) out.push([['faults', i, 'role'], `no role "${f.role}" ${fromSequencer ? 'at the sequencer end of sequencer-tracker' : linkFault ? 'among the nodes' : 'in the network'}; valid: ${valid.join(', ')}`]);
  });
  return out;
}
