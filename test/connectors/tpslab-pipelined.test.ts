// The conformance suite against the reference network with each beacon's batches pipelined
// (target.pipelining 4 over 4 connections): the same contract holds, failover included (a
// connection that closes with batches in its pipeline has them sent again by the HTTP client).
import { connectorConformance } from './conformance.js';
import { tpslabFixture } from './tpslab-fixture.js';

connectorConformance('tpslab', () => tpslabFixture({ connections: 4, pipelining: 4 }));
