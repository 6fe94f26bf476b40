/**
 * The `target` option schemas of every connector, without their implementations:
 * what the scenario schema (and its published JSON Schema) is built from.
 */
export { EthereumTargetSchema } from './ethereum/schema.js';
export { HttpTargetSchema } from './http/schema.js';
export { TpslabTargetSchema } from './tpslab/schema.js';
