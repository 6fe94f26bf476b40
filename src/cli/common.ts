/** Helpers shared by CLI commands: option parsing with coded errors, and running until a signal. */
import { TpslabError } from '../errors.js';

export function parseIntOption(name: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^-?[0-9]+$/.test(value) || n < min || n > max) {
      throw new TpslabError('TPSLAB_E_USAGE', `${name} must be an integer from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

export function parseAmountOption(name: string, min = 0n): (value: string) => bigint {
  return (value: string) => {
    if (!/^(0|[1-9][0-9]{0,19})$/.test(value) || BigInt(value) >= 1n << 64n || BigInt(value) < min) {
      throw new TpslabError('TPSLAB_E_USAGE', `${name} must be a whole number from ${min} to 2^64-1, got "${value}"`);
    }
    return BigInt(value);
  };
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
