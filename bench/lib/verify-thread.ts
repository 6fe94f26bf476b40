/** One thread of measureVerifyThreads (verify.ts): builds its set, says so, measures on 'go', answers the rate. */
import { parentPort, workerData } from 'node:worker_threads';
import { measureVerify, verifySet } from './verify.js';

const { network, durationMs } = workerData as { network: string; durationMs: number };
const set = verifySet(network);
parentPort!.postMessage('ready');
parentPort!.once('message', () => parentPort!.postMessage(measureVerify(set, durationMs)));
