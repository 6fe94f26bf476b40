// The conformance suite against the reference network: 3 nodes, a sequencer and a tracker
// started with `net up` in a temp dir, reached through its network file.
import { connectorConformance } from './conformance.js';
import { tpslabFixture } from './tpslab-fixture.js';

connectorConformance('tpslab', () => tpslabFixture());
