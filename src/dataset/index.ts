/** The dataset API: preparation, reading (for the replay workload) and info. */
export { shardKeyOf, scriptLabel, seedOfLabel } from './accounts.js';
export { BLK_MAGICS, type SourceNetwork } from './blk-files.js';
export { FORMAT_VERSION, type DatasetHeader, type DatasetStats } from './format.js';
export { datasetInfo, formatInfo, type DatasetInfo } from './info.js';
export { pathsOf, prepareDataset, type PrepareOptions, type PrepareProgress, type PrepareResult } from './prepare.js';
export { openDataset, type Dataset, type DatasetRecord, type FrameInfo, type RecordsOptions, type ShardRange } from './reader.js';
export { KeyCache, signRecord, type SignedRecord } from './sign.js';
